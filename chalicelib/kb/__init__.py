"""Knowledge-base retrieval and the bot's language understanding, in plain Python.

Nothing here touches AWS or fetches a model: text normalisation and tokenisation
(`text`), ranking (`search`), intents and sentiment (`intent`), question type
(`classify`) and the bot's answer / clarify / hand-off decision (`decide`).
Imported lazily by the services that need it, so handlers that never search do not
pay for the Chinese segmenter's import.
"""
