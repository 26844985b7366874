// Sound (a short WebAudio chime) and desktop notifications for new chats and messages.

const SOUND_KEY = "kefu.console.sound";
let audio = null;

/** Browsers only let audio start after a user gesture: create the context on the first one. */
export function unlockAudioOnGesture() {
  const unlock = () => {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      if (audio.state === "suspended") audio.resume();
    } catch {
      audio = null;
    }
  };
  window.addEventListener("pointerdown", unlock, { capture: true });
  window.addEventListener("keydown", unlock, { capture: true });
}

export function soundEnabled() {
  return localStorage.getItem(SOUND_KEY) !== "off";
}

export function setSoundEnabled(on) {
  localStorage.setItem(SOUND_KEY, on ? "on" : "off");
}

export function beep() {
  if (!soundEnabled() || !audio || audio.state !== "running") return;
  const now = audio.currentTime;
  for (const [freq, start] of [[880, 0], [1320, 0.12]]) {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = "sine";
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, now + start);
    gain.gain.exponentialRampToValueAtTime(0.18, now + start + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + start + 0.22);
    osc.connect(gain).connect(audio.destination);
    osc.start(now + start);
    osc.stop(now + start + 0.25);
  }
}

export function notificationState() {
  return "Notification" in window ? Notification.permission : "unsupported";
}

/** Ask for permission; call only from a click or key handler. */
export async function requestNotifications() {
  if (notificationState() !== "default") return notificationState();
  try {
    return await Notification.requestPermission();
  } catch {
    return notificationState();
  }
}

/** Show a desktop notification (text only); clicking it focuses the console and calls onClick. */
export function notify(title, body, tag, onClick) {
  if (notificationState() !== "granted") return;
  try {
    const n = new Notification(title, { body: String(body || "").slice(0, 180), tag, renotify: true });
    n.onclick = () => {
      window.focus();
      onClick?.();
      n.close();
    };
  } catch {
    // Some browsers only allow notifications from a service worker; the sound still plays.
  }
}
