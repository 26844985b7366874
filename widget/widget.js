/* Kefu visitor widget: the loader a site embeds with one line (plain ES2020, no build step).
 *
 *   <script src="https://HOST/widget/widget.js" data-site-key="pk_…" async></script>
 *
 * It draws the launcher in a closed shadow root (the host page's CSS cannot reach it), owns
 * the visitor's session and WebSocket, reports page views, and loads the chat panel
 * (frame.html, an iframe) only when the visitor opens it or has unread messages.
 * docs/widget.md documents the options, window.Kefu and the postMessage protocol.
 */
(() => {
  'use strict';
  const script = document.currentScript;
  const early = window.Kefu;
  if (!script || (early && early.version)) return; // not run as a <script>, or loaded twice
  const data = script.dataset;
  const siteKey = data.siteKey;
  if (!siteKey) return console.warn('[kefu] the script tag needs data-site-key');

  const base = new URL('./', script.src).href;
  const widgetOrigin = new URL(base).origin;
  const apiUrl = (data.apiUrl || widgetOrigin + '/v1').replace(/\/+$/, '');
  const wsUrl = data.wsUrl || widgetOrigin.replace(/^http/, 'ws') + '/ws';
  const color = data.color && CSS.supports('color', data.color) ? data.color : '#4f46e5';
  const LOCALES = ['en', 'zh'];
  const TEXT = {
    en: { open: 'Open chat', close: 'Close chat', unread: 'unread', title: 'Chat' },
    zh: { open: '打开在线客服', close: '关闭聊天', unread: '条未读', title: '在线客服' },
  };
  const mark = (name) => performance.mark && performance.mark('kefu:' + name);

  // ------------------------------------------------------------------ storage (per site key)
  const storage = (name) => {
    let area = null;
    const memory = {};
    try { area = window[name]; area.getItem('kefu'); } catch { area = null; } // blocked storage
    const key = (k) => 'kefu:' + siteKey + ':' + k;
    return {
      get(k) {
        try { return JSON.parse((area ? area.getItem(key(k)) : memory[k]) || 'null'); } catch { return null; }
      },
      set(k, value) {
        const json = JSON.stringify(value);
        if (area) { try { area.setItem(key(k), json); } catch { /* quota: keep going */ } } else memory[k] = json;
      },
    };
  };
  const local = storage('localStorage');
  const tab = storage('sessionStorage');

  let locale = local.get('locale') || ((navigator.language || '').toLowerCase().startsWith('zh') ? 'zh' : 'en');
  let isOpen = false;
  let unread = 0;
  let seen = local.get('seen') || { conv: null, seq: 0 }; // the last seq the visitor has had on screen
  let conv = null;
  let iframe = null;
  // Frames the panel must see though they came before it was ready: a ticket.solved, and the
  // latest queue.status (a reloaded page hears its place, or the leave-a-message offer, once).
  const kept = new Map();
  let frameReady = false;
  let focusOnReady = false;
  const listeners = { message: [], open: [], close: [], unread: [] };

  const emit = (event, payload) => {
    for (const cb of listeners[event].slice()) {
      try { cb(payload); } catch (error) { console.error('[kefu] listener failed', error); }
    }
  };

  // ------------------------------------------------------------------ launcher (closed shadow root)
  const host = document.createElement('kefu-widget');
  // Inline !important beats any stylesheet rule of the host page, even `* { all: unset !important }`.
  host.setAttribute('style', 'all:initial!important;display:block!important;position:fixed!important;' +
    'right:0!important;bottom:0!important;width:0!important;height:0!important;overflow:visible!important;' +
    'z-index:2147483000!important;visibility:visible!important;opacity:1!important;transform:none!important;' +
    'filter:none!important;pointer-events:none!important');
  const root = host.attachShadow({ mode: 'closed' });
  const css = `
.k{--c:${color};font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,"PingFang SC","Microsoft YaHei",sans-serif}
.l{all:initial;position:fixed;right:20px;bottom:20px;width:60px;height:60px;border-radius:50%;background:var(--c);
color:#fff;display:grid;place-items:center;cursor:pointer;pointer-events:auto;box-sizing:border-box;
box-shadow:0 6px 24px rgba(15,23,42,.24);transition:transform .15s ease}
.l:hover{transform:scale(1.06)}.l:focus-visible{outline:3px solid var(--c);outline-offset:3px}
.l svg{width:28px;height:28px;fill:currentColor;transition:transform .2s}.l .x{display:none}
.open .l .x{display:block}.open .l .c{display:none}
.b{all:initial;position:absolute;top:-3px;right:-3px;min-width:20px;height:20px;padding:0 6px;box-sizing:border-box;
border-radius:10px;background:#ef4444;color:#fff;font:700 12px/20px system-ui,sans-serif;text-align:center;
box-shadow:0 0 0 2px #fff}.b[hidden]{display:none}
.p{position:fixed;right:20px;bottom:92px;width:380px;height:min(640px,calc(100vh - 112px));border-radius:16px;
overflow:hidden;background:#fff;box-shadow:0 16px 48px rgba(15,23,42,.28);pointer-events:auto;
visibility:hidden;opacity:0;transform:translateY(16px) scale(.98);transform-origin:bottom right;
transition:opacity .16s ease,transform .16s ease,visibility 0s .16s}
.open .p{visibility:visible;opacity:1;transform:none;transition:opacity .16s ease,transform .16s ease}
.p iframe{all:initial;display:block;width:100%;height:100%;border:0;visibility:inherit}
@media (max-width:480px){.p{inset:0;width:100%;height:100%;border-radius:0}.open .l{display:none}}
@media (prefers-reduced-motion:reduce){.l,.p,.open .p,.l svg{transition:none}}`;
  if (root.adoptedStyleSheets && window.CSSStyleSheet && CSSStyleSheet.prototype.replaceSync) {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    root.adoptedStyleSheets = [sheet];
  } else {
    root.append(Object.assign(document.createElement('style'), { textContent: css }));
  }
  const wrap = document.createElement('div');
  wrap.className = 'k';
  // Constant markup only: no message text ever goes through innerHTML.
  wrap.innerHTML = '<div class="p" part="panel"></div><button class="l" type="button" aria-expanded="false">' +
    '<svg class="c" viewBox="0 0 24 24" aria-hidden="true"><path d="M12 3C6.5 3 2 6.6 2 11c0 2.4 1.3 4.6 3.4 6.1' +
    'L4.6 21l4.3-2.2c1 .3 2 .4 3.1.4 5.5 0 10-3.6 10-8.1S17.5 3 12 3z"/></svg><svg class="x" viewBox="0 0 24 24" ' +
    'aria-hidden="true"><path d="M18.3 5.7a1 1 0 0 0-1.4 0L12 10.6 7.1 5.7a1 1 0 0 0-1.4 1.4l4.9 4.9-4.9 4.9a1 1 0 1 0 ' +
    '1.4 1.4l4.9-4.9 4.9 4.9a1 1 0 0 0 1.4-1.4L13.4 12l4.9-4.9a1 1 0 0 0 0-1.4z"/></svg><span class="b" hidden>' +
    '</span></button>';
  root.append(wrap);
  const panel = wrap.firstChild;
  const launcher = wrap.lastChild;
  const badge = launcher.lastChild;

  const label = () => {
    const t = TEXT[locale];
    launcher.setAttribute('aria-label', (isOpen ? t.close : t.open) + (unread ? ` (${unread} ${t.unread})` : ''));
    if (iframe) iframe.title = t.title;
  };
  const setUnread = (count) => {
    count = Math.max(0, Math.min(99, count | 0));
    if (count === unread) return;
    unread = count;
    badge.textContent = String(count);
    badge.hidden = !count;
    label();
    emit('unread', count);
  };

  // ------------------------------------------------------------------ the panel iframe
  const post = (type, payload) => {
    if (frameReady) iframe.contentWindow.postMessage(Object.assign({ type: 'kefu:' + type }, payload), widgetOrigin);
  };
  const mountFrame = () => {
    if (iframe) return;
    const params = new URLSearchParams({ k: siteKey, o: location.origin, l: locale, c: color });
    iframe = document.createElement('iframe');
    iframe.src = base + 'frame.html#' + params;
    iframe.allow = 'clipboard-write';
    label();
    panel.append(iframe);
  };
  const visible = () => isOpen && document.visibilityState === 'visible';

  function open(byUser) {
    if (isOpen) return;
    isOpen = true;
    tab.set('open', true);
    mark('open');
    mountFrame();
    wrap.classList.add('open');
    launcher.setAttribute('aria-expanded', 'true');
    label();
    focusOnReady = byUser !== false;
    if (frameReady && focusOnReady) iframe.focus();
    post('visible', { open: true, focus: focusOnReady });
    emit('open');
  }
  function close(refocus) {
    if (!isOpen) return;
    isOpen = false;
    tab.set('open', false);
    wrap.classList.remove('open');
    launcher.setAttribute('aria-expanded', 'false');
    label();
    post('visible', { open: false });
    if (refocus) launcher.focus();
    emit('close');
  }
  launcher.addEventListener('click', () => (isOpen ? close(true) : open(true)));
  launcher.addEventListener('pointerenter', mountFrame, { once: true }); // warm the panel on intent
  launcher.addEventListener('focus', mountFrame, { once: true });
  root.addEventListener('keydown', (event) => { if (event.key === 'Escape' && isOpen) close(true); });

  // Messages from the panel: a lookup table of handlers, accepted only from our own iframe.
  const handlers = new Map([
    ['kefu:ready', () => {
      frameReady = true;
      const session = local.get('session');
      post('init', {
        siteKey, apiUrl, locale, color, state, seen, conv, open: isOpen, focus: isOpen && focusOnReady,
        session: session && { token: session.token, visitor_id: session.visitor_id, tenant_name: session.tenant_name },
      });
      if (isOpen && focusOnReady) iframe.focus();
      for (const frame of kept.values()) post('server', { frame });
      kept.clear();
    }],
    ['kefu:shown', () => { mark('panel-ready'); }],
    ['kefu:send', (msg) => { if (msg.frame && typeof msg.frame.action === 'string') send(msg.frame); }],
    ['kefu:close', () => close(true)],
    ['kefu:unread', (msg) => { if (!visible()) setUnread(msg.count); }],
  ]);
  addEventListener('message', (event) => {
    if (!iframe || event.source !== iframe.contentWindow || event.origin !== widgetOrigin) return;
    const handler = event.data && typeof event.data.type === 'string' && handlers.get(event.data.type);
    if (handler) handler(event.data);
  });

  // ------------------------------------------------------------------ session + WebSocket
  let ws = null;
  let state = '';
  let attempt = 0;
  let retryTimer = 0;
  let refreshSession = !tab.get('visit'); // one POST per visit; reuse the token between pages
  let lastFrameAt = 0;
  let stopped = false;
  const waiting = []; // page views / identify not sent yet (no connection, or spacing)

  const setState = (next) => {
    if (next === state) return;
    state = next;
    post('state', { state });
  };

  async function startSession(previous) {
    const response = await fetch(apiUrl + '/visitor/sessions', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(previous ? { site_key: siteKey, token: previous.token } : { site_key: siteKey }),
    });
    if (response.status === 404) {
      stopped = true;
      throw new Error('unknown site key');
    }
    if (!response.ok) throw new Error('session ' + response.status);
    const body = await response.json();
    const session = {
      token: body.token, visitor_id: body.visitor_id, tenant_name: body.tenant_name,
      exp: Date.now() + body.expires_in * 1000,
    };
    local.set('session', session);
    tab.set('visit', true);
    refreshSession = false;
    if (!previous || previous.visitor_id !== session.visitor_id) {
      conv = null;
      seen = { conv: null, seq: 0 };
      local.set('seen', seen);
    }
    post('session', { session: { token: session.token, visitor_id: session.visitor_id, tenant_name: session.tenant_name } });
    return session;
  }

  async function connect() {
    clearTimeout(retryTimer);
    if (ws || stopped) return;
    if (!navigator.onLine) return setState('offline');
    setState('connecting');
    let session = local.get('session');
    try {
      if (refreshSession || !session || session.exp < Date.now() + 7 * 864e5) session = await startSession(session);
    } catch (error) {
      if (stopped) return console.warn('[kefu] ' + error.message + ': the widget is disabled');
      return retry();
    }
    if (ws) return;
    const sep = wsUrl.includes('?') ? '&' : '?';
    const socket = new WebSocket(wsUrl + sep + 'token=' + encodeURIComponent(session.token));
    ws = socket;
    let opened = false;
    socket.onopen = () => {
      opened = true;
      socket.send(JSON.stringify({ action: 'hello' }));
    };
    socket.onmessage = (event) => {
      let frame;
      try { frame = JSON.parse(event.data); } catch { return; }
      if (frame && typeof frame.action === 'string') receive(frame);
    };
    socket.onclose = () => {
      if (ws !== socket) return;
      ws = null;
      if (!opened) refreshSession = true; // a refused handshake: the token may be stale
      setState('offline');
      retry();
    };
  }

  function retry() {
    clearTimeout(retryTimer);
    if (stopped || !navigator.onLine) return setState('offline');
    setState('offline');
    // Exponential backoff with jitter: 0.5-1 × min(30 s, 0.5 s × 2^attempt).
    const ceiling = Math.min(30000, 500 * 2 ** attempt++);
    retryTimer = setTimeout(connect, ceiling / 2 + Math.random() * ceiling / 2);
  }

  function drop() {
    const socket = ws;
    ws = null;
    if (socket) {
      socket.onclose = socket.onmessage = socket.onopen = null;
      try { socket.close(); } catch { /* already closed */ }
    }
  }

  function send(frame) {
    if (!ws || state !== 'online') return false;
    if (frame.action === 'read' && frame.seq > (seen.conv === frame.conversation_id ? seen.seq : 0)) {
      seen = { conv: frame.conversation_id, seq: frame.seq };
      local.set('seen', seen);
      setUnread(0);
    }
    ws.send(JSON.stringify(frame));
    return true;
  }

  function receive(frame) {
    lastFrameAt = Date.now();
    if (frame.action === 'welcome') {
      attempt = 0;
      conv = frame.conversation_id || null;
      setState('online');
      drain();
      const behind = conv && (seen.conv === conv ? frame.last_seq - seen.seq : frame.last_seq);
      if (behind > 0 && !visible()) mountFrame(); // the panel counts exactly what is unread
    } else if (frame.action === 'message.ack') {
      conv = frame.conversation_id;
    } else if (frame.action === 'message.new' && !frame.message.internal) {
      const m = frame.message;
      conv = frame.conversation_id;
      emit('message', {
        text: m.text, sender_role: m.sender_role, sender_name: m.sender_name, seq: m.seq,
        created_at: m.created_at, attachment: m.attachment || null,
      });
      if (m.sender_role === 'agent' && !visible()) {
        if (!iframe) mountFrame();
        setUnread(unread + 1);
        beep();
      }
    } else if (frame.action === 'queue.status') {
      if (!frameReady) kept.set(frame.action, frame);
    } else if (frame.action === 'ticket.solved') {
      // the panel asks the visitor to rate it: load it if need be, and hand the frame over when ready
      if (!frameReady) kept.set(frame.action, frame);
      if (!iframe) mountFrame();
      if (!visible()) setUnread(unread + 1);
    }
    post('server', { frame });
  }

  // Page views / identify, in order. Each frame is its own Lambda invocation and those may run
  // in parallel, so page views leave 250 ms apart: the trail gets them in the order seen.
  let drainTimer = 0;
  let lastViewAt = 0;
  function drain() {
    clearTimeout(drainTimer);
    while (waiting.length) {
      const next = waiting[0];
      const wait = next.action === 'page.view' ? lastViewAt + 250 - Date.now() : 0;
      if (wait > 0) return void (drainTimer = setTimeout(drain, wait));
      if (!send(next)) return;
      waiting.shift();
      if (next.action === 'page.view') lastViewAt = Date.now();
    }
  }
  function queue(frame) {
    waiting.push(frame);
    drain();
  }

  let audio = null;
  function beep() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      if (audio.state === 'suspended') audio.resume();
      const t = audio.currentTime;
      const tone = audio.createOscillator();
      const gain = audio.createGain();
      tone.type = 'sine';
      tone.frequency.setValueAtTime(880, t);
      tone.frequency.setValueAtTime(1320, t + 0.09);
      gain.gain.setValueAtTime(0.0001, t);
      gain.gain.exponentialRampToValueAtTime(0.12, t + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.3);
      tone.connect(gain).connect(audio.destination);
      tone.start(t);
      tone.stop(t + 0.32);
    } catch { /* no audio: not worth an error */ }
  }

  // A socket can die silently (sleeping laptop, lost Wi-Fi): ping, and reconnect on silence.
  setInterval(() => {
    if (!ws || state !== 'online') return;
    if (Date.now() - lastFrameAt > 75000) { drop(); retry(); return; }
    if (Date.now() - lastFrameAt > 50000) ws.send('{"action":"ping"}');
  }, 25000);
  addEventListener('offline', () => { drop(); clearTimeout(retryTimer); setState('offline'); });
  addEventListener('online', () => { attempt = 0; connect(); });
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && !ws) { attempt = 0; connect(); }
  });

  // ------------------------------------------------------------------ page views (also SPA navigation)
  let lastUrl = '';
  function pageView() {
    const url = location.href;
    if (url === lastUrl) return;
    const first = !lastUrl;
    lastUrl = url;
    const params = new URLSearchParams(location.search);
    const utm = {};
    for (const k of ['source', 'medium', 'campaign', 'term', 'content']) {
      const v = params.get('utm_' + k);
      if (v) utm[k] = v.slice(0, 200);
    }
    const frame = {
      action: 'page.view', url: url.slice(0, 2048), title: document.title.slice(0, 300),
      language: (navigator.language || '').slice(0, 35), screen: `${screen.width}x${screen.height}`,
    };
    if (first && document.referrer) frame.referrer = document.referrer.slice(0, 2048);
    if (Object.keys(utm).length) frame.utm = utm;
    queue(frame);
  }
  for (const method of ['pushState', 'replaceState']) {
    const original = history[method];
    history[method] = function (...args) {
      const result = original.apply(this, args);
      setTimeout(pageView); // after the app has set its new title
      return result;
    };
  }
  addEventListener('popstate', () => setTimeout(pageView));

  // ------------------------------------------------------------------ the public API
  const clip = (value, max) => (value == null ? undefined : String(value).slice(0, max));
  const api = {
    version: '1',
    open: () => open(true),
    close: () => close(false),
    toggle: () => (isOpen ? close(false) : open(true)),
    identify(info) {
      if (!info || typeof info !== 'object') return;
      const frame = {
        action: 'identify', name: clip(info.name, 200), email: clip(info.email, 254),
        phone: clip(info.phone, 40), user_hash: clip(info.user_hash, 128),
      };
      if (info.attributes && typeof info.attributes === 'object') {
        frame.attributes = {};
        for (const [k, v] of Object.entries(info.attributes).slice(0, 50)) frame.attributes[k] = clip(v, 500);
      }
      queue(JSON.parse(JSON.stringify(frame))); // drops the undefined fields
    },
    on(event, cb) {
      if (!listeners[event] || typeof cb !== 'function') return () => {};
      listeners[event].push(cb);
      return () => { listeners[event] = listeners[event].filter((f) => f !== cb); };
    },
    setLocale(next) {
      if (!LOCALES.includes(next)) return;
      locale = next;
      local.set('locale', next);
      label();
      post('locale', { locale });
    },
  };
  window.Kefu = api;

  const start = () => {
    document.documentElement.append(host);
    label();
    requestAnimationFrame(() => mark('launcher'));
    // Calls made before the script loaded: window.Kefu = {q: [["open"], ["identify", {...}]]}.
    for (const call of (early && Array.isArray(early.q) ? early.q : [])) {
      const [method, ...args] = Array.from(call || []);
      if (typeof api[method] === 'function' && method !== 'version') api[method](...args);
    }
    if (tab.get('open') && !isOpen) open(false);
    pageView();
    connect();
  };
  if (document.body) start(); else document.addEventListener('DOMContentLoaded', start, { once: true });
})();
