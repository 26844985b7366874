// The agent's WebSocket: hello on open, ping to stay warm, reconnect with backoff and jitter.

const PING_MS = 30_000;
const MAX_BACKOFF_MS = 30_000;
const WELCOME_MS = 6_000; // an open socket must be welcomed by then

export class AgentSocket extends EventTarget {
  /**
   * @param {() => string} url         ws(s) URL with the token (read at each attempt)
   * @param {() => Promise<boolean>} tokenValid  asked after a refused handshake
   */
  constructor(url, tokenValid) {
    super();
    this.url = url;
    this.tokenValid = tokenValid;
    this.ws = null;
    this.state = "connecting"; // connecting | online | offline
    this.attempt = 0;
    this.retryAt = 0;
    this.stopped = true;
    this.timer = null;
    this.pingTimer = null;
    window.addEventListener("online", () => this.retryNow());
  }

  start() {
    this.stopped = false;
    this.open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.pingTimer);
    if (this.ws) {
      this.ws.onclose = null;
      this.ws.close(1000, "signed out");
      this.ws = null;
    }
  }

  /** Skip the remaining backoff (network came back, or the user asked). */
  retryNow() {
    if (this.stopped || this.state !== "offline") return;
    clearTimeout(this.timer);
    this.open();
  }

  setState(state) {
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: { state, retryAt: this.retryAt } }));
  }

  open() {
    this.setState("connecting");
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch {
      this.scheduleRetry(false);
      return;
    }
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      ws.send(JSON.stringify({ action: "hello" }));
      // No welcome within WELCOME_MS: the hello or its answer was lost; start over.
      clearTimeout(this.welcomeTimer);
      this.welcomeTimer = setTimeout(() => { if (this.ws === ws) ws.close(); }, WELCOME_MS);
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => this.send({ action: "ping" }), PING_MS);
    };
    ws.onmessage = (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (frame.action === "welcome") {
        clearTimeout(this.welcomeTimer);
        this.attempt = 0;
        this.setState("online");
      }
      this.dispatchEvent(new CustomEvent("frame", { detail: frame }));
    };
    ws.onclose = () => {
      clearInterval(this.pingTimer);
      clearTimeout(this.welcomeTimer);
      if (this.ws === ws) this.ws = null;
      if (!this.stopped) this.scheduleRetry(opened);
    };
  }

  async scheduleRetry(wasOpen) {
    // A handshake refused before it opened may be a dead token: ask REST before hammering.
    if (!wasOpen && !(await this.tokenValid())) return;
    const base = Math.min(MAX_BACKOFF_MS, 500 * 2 ** this.attempt);
    const delay = Math.round(base / 2 + Math.random() * base / 2);
    this.attempt += 1;
    this.retryAt = Date.now() + delay;
    this.setState("offline");
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.open(), delay);
  }

  /** Send a frame now; false when the socket is not open (callers keep their own queue). */
  send(frame) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  get online() {
    return this.state === "online" && this.ws?.readyState === WebSocket.OPEN;
  }
}
