/* Kefu chat panel: runs in the iframe that widget.js opens (plain ES2020, no build step).
 *
 * The loader owns the WebSocket; this page draws the conversation, keeps the outbox and
 * talks to the loader with postMessage ("kefu:*" messages, a lookup table of handlers,
 * the host page's origin pinned both ways). Message text is only ever put in the DOM as
 * text nodes: links are <a> elements built with textContent and an http(s) href.
 */
(() => {
  'use strict';
  const params = new URLSearchParams(location.hash.slice(1));
  const hostOrigin = params.get('o');
  const siteKey = params.get('k') || '';
  if (!hostOrigin || !/^https?:\/\//.test(hostOrigin) || window.parent === window) return;

  const MAX_BYTES = 10 * 1024 * 1024;
  const UPLOAD_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'application/pdf', 'text/plain'];
  const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g;
  const URLS = /\bhttps?:\/\/[^\s<>"'`]+/gi;
  const EMOJI = ['😀', '😂', '😊', '😍', '🥰', '😉', '😎', '🤔', '😅', '😢', '😮', '😡', '👍', '👎', '👏', '🙏',
    '👋', '🤝', '💪', '🎉', '❤️', '🔥', '✅', '❌', '💯', '⭐', '💡', '📦', '🚚', '💳', '🎁', '☕'];
  const STRINGS = {
    en: {
      title: 'Chat with us', welcome: 'Hi there 👋 How can we help? Send us a message and we will reply right here.',
      online: 'Online', connecting: 'Connecting…', offline: 'Offline',
      offlineNote: 'You are offline. Messages you write are kept and sent when the connection is back.',
      input: 'Message', placeholder: 'Write a message…', send: 'Send', emoji: 'Emoji', attach: 'Attach a file',
      close: 'Minimise chat', seen: 'Seen', sending: 'Sending…', uploading: 'Uploading…', failed: 'Not sent',
      retry: 'Retry', typing: 'is typing…', agent: 'Support', resolved: 'This conversation was resolved.',
      tooBig: 'Files can be at most 10 MB.', badType: 'Send images, PDFs or text files.',
      uploadFailed: 'The upload failed. Try again.', needConversation: 'Say hello first, then attach files.',
      tooLong: 'A message can be at most 4,000 characters: send this part, then the rest.',
      brand: 'Powered by Kefu',
    },
    zh: {
      title: '在线客服', welcome: '您好 👋 有什么可以帮您？请留言，我们会在这里回复您。',
      online: '在线', connecting: '连接中…', offline: '离线',
      offlineNote: '网络已断开。您输入的消息会保存下来，恢复连接后自动发送。',
      input: '消息', placeholder: '输入消息…', send: '发送', emoji: '表情', attach: '发送文件',
      close: '最小化', seen: '已读', sending: '发送中…', uploading: '上传中…', failed: '发送失败',
      retry: '重试', typing: '正在输入…', agent: '客服', resolved: '本次会话已结束。',
      tooBig: '文件不能超过 10 MB。', badType: '可发送图片、PDF 或文本文件。',
      uploadFailed: '上传失败，请重试。', needConversation: '请先发送一条消息，再发送文件。',
      tooLong: '每条消息最多 4000 字：请先发送这一部分，再发送其余内容。',
      brand: '由 Kefu 提供支持',
    },
  };

  const $ = (id) => document.getElementById(id);
  const log = $('log');
  const input = $('input');
  const sendButton = $('send');
  const emojiBox = $('emoji');
  const emojiButton = $('emoji-button');
  const attachButton = $('attach-button');
  const fileInput = $('file');
  const banner = $('banner');
  const typingRow = $('typing');
  const seenRow = Object.assign(document.createElement('li'), { className: 'seen' });

  let locale = params.get('l') === 'zh' ? 'zh' : 'en';
  const t = (key) => STRINGS[locale][key];

  let cfg = null; // what the loader sent in kefu:init
  let session = null;
  let state = 'connecting';
  let welcomed = false; // the loader's socket is open and has said hello
  let open = false;
  let conv = null;
  let lastSeq = 0; // every message up to here is known (shown, or not meant for the visitor)
  let have = new Set(); // seqs shown above lastSeq
  let messages = new Map(); // seq → message, for the cache
  let syncing = false;
  let syncTimer = 0;
  let agentReadSeq = 0;
  let readSent = 0;
  let outbox = [];
  let inflight = null;
  let inflightTimer = 0;
  let unreadCounted = false;
  let noticeTimer = 0;
  const agentNames = new Map();

  // ------------------------------------------------------------------ storage (this visitor, this site)
  const store = {
    key: (name) => `kefu:${siteKey}:${session ? session.visitor_id : '-'}:${name}`,
    get(name) { try { return JSON.parse(localStorage.getItem(store.key(name)) || 'null'); } catch { return null; } },
    set(name, value) { try { localStorage.setItem(store.key(name), JSON.stringify(value)); } catch { /* full or blocked */ } },
  };
  const saveOutbox = () => store.set('outbox', outbox.map(({ id, text, attachment, at }) => ({ id, text, attachment, at })));
  let cacheTimer = 0;
  const saveCache = () => {
    clearTimeout(cacheTimer);
    cacheTimer = setTimeout(() => {
      const recent = [...messages.values()].filter((m) => m.seq <= lastSeq).sort((a, b) => a.seq - b.seq).slice(-50);
      store.set('chat', { conv, lastSeq, at: Date.now(), messages: recent });
    }, 200);
  };

  // ------------------------------------------------------------------ the bridge to the loader
  const toHost = (type, payload) => parent.postMessage(Object.assign({ type: 'kefu:' + type }, payload), hostOrigin);
  const send = (frame) => toHost('send', { frame });
  const fromHost = new Map([
    ['kefu:init', onInit],
    ['kefu:session', (msg) => useSession(msg.session)],
    ['kefu:state', (msg) => setState(msg.state)],
    ['kefu:server', (msg) => { const h = fromServer.get(msg.frame && msg.frame.action); if (h && session) h(msg.frame); }],
    ['kefu:visible', (msg) => setOpen(msg.open, msg.focus)],
    ['kefu:locale', (msg) => setLocale(msg.locale)],
  ]);
  addEventListener('message', (event) => {
    if (event.source !== parent || event.origin !== hostOrigin) return;
    const handler = event.data && typeof event.data.type === 'string' && fromHost.get(event.data.type);
    if (handler) handler(event.data);
  });

  const fromServer = new Map([
    ['welcome', onWelcome],
    ['message.ack', onAck],
    ['message.new', (f) => {
      if (f.message.internal) return;
      if (f.conversation_id !== conv) switchConversation(f.conversation_id);
      apply(f.message);
    }],
    ['messages', onMessages],
    ['typing', onTyping],
    ['read', (f) => {
      if (f.role === 'agent' && f.conversation_id === conv && f.seq > agentReadSeq) {
        agentReadSeq = f.seq;
        renderSeen();
      }
    }],
    ['conversation.updated', (f) => {
      const c = f.conversation;
      // The server reopens a resolved conversation when the visitor writes again: keep it, mark the break.
      if (c && c.conversation_id === conv && c.status === 'resolved' && !log.lastElementChild.matches('.divider')) {
        log.insertBefore(el('li', 'divider', t('resolved')), log.querySelector('li[data-pending]'));
      }
    }],
    ['error', onError],
  ]);

  // ------------------------------------------------------------------ lifecycle
  function onInit(msg) {
    cfg = msg;
    setLocale(msg.locale);
    applyColor(msg.color);
    state = msg.state || 'connecting';
    welcomed = state === 'online';
    open = !!msg.open;
    renderState();
    if (msg.session) useSession(msg.session, msg.conv);
    if (open) setOpen(true, msg.focus);
  }

  function useSession(next, knownConv) {
    if (!next) return;
    const same = session && session.visitor_id === next.visitor_id;
    session = next;
    const name = next.tenant_name || '';
    $('title').textContent = name || t('title');
    $('avatar').textContent = (name.trim()[0] || 'K');
    if (same) return;
    switchConversation(null, true);
    const cache = store.get('chat');
    const fresh = cache && Date.now() - cache.at < 10 * 60 * 1000;
    const startConv = knownConv !== undefined && welcomed ? knownConv : fresh ? cache.conv : null;
    if (startConv) {
      conv = startConv;
      if (fresh && cache.conv === startConv) {
        lastSeq = cache.lastSeq;
        for (const m of cache.messages) apply(m, true);
      }
    }
    outbox = store.get('outbox') || [];
    for (const item of outbox) showPending(item);
    scrollDown(true);
    if (welcomed) start();
  }

  function start() {
    if (conv) { loadReceipts(); requestSync(); }
    flush();
    scheduleRead();
  }

  function onWelcome(f) {
    welcomed = true;
    readSent = 0;
    syncing = false;
    inflight = null;
    if ((f.conversation_id || null) !== conv) switchConversation(f.conversation_id || null);
    start();
  }

  function setState(next) {
    state = next;
    if (state !== 'online') {
      welcomed = false;
      inflight = null;
      syncing = false;
    }
    renderState();
  }

  function renderState() {
    const status = $('status');
    status.dataset.state = state;
    $('status-text').textContent = t(state) || t('connecting');
    if (!noticeTimer) {
      banner.hidden = state !== 'offline';
      banner.textContent = t('offlineNote');
    }
  }

  function notice(text) {
    clearTimeout(noticeTimer);
    banner.textContent = text;
    banner.hidden = false;
    noticeTimer = setTimeout(() => { noticeTimer = 0; renderState(); }, 5000);
  }

  function setOpen(next, focus) {
    open = !!next;
    if (!open) return;
    scrollDown(true);
    if (focus) input.focus({ preventScroll: true });
    scheduleRead();
    toHost('shown', {});
  }

  function setLocale(next) {
    if (!STRINGS[next]) return;
    locale = next;
    document.documentElement.lang = next === 'zh' ? 'zh-CN' : 'en';
    document.title = t('title');
    if (!session || !session.tenant_name) $('title').textContent = t('title');
    $('intro').textContent = t('welcome');
    $('input-label').textContent = t('input');
    input.placeholder = t('placeholder');
    sendButton.setAttribute('aria-label', t('send'));
    emojiButton.setAttribute('aria-label', t('emoji'));
    emojiBox.setAttribute('aria-label', t('emoji'));
    attachButton.setAttribute('aria-label', t('attach'));
    $('close').setAttribute('aria-label', t('close'));
    $('brand').textContent = t('brand');
    seenRow.textContent = t('seen');
    renderState();
  }

  function applyColor(color) {
    if (!color || !CSS.supports('color', color)) return;
    const root = document.documentElement.style;
    root.setProperty('--brand', color);
    const probe = document.createElement('span');
    probe.style.color = color;
    document.body.append(probe);
    const [r, g, b] = (getComputedStyle(probe).color.match(/\d+(\.\d+)?/g) || [0, 0, 0]).map(Number);
    probe.remove();
    const luminance = (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
    root.setProperty('--on-brand', luminance > 0.62 ? '#111827' : '#fff');
  }

  // ------------------------------------------------------------------ conversation state
  /** Start showing conversation `id` (null: none yet); earlier messages stay above a divider. */
  function switchConversation(id, clear, quiet) {
    if (id === conv && !clear) return;
    const hadMessages = messages.size > 0;
    conv = id;
    lastSeq = 0;
    have = new Set();
    messages = new Map();
    agentReadSeq = 0;
    readSent = 0;
    syncing = false;
    seenRow.remove();
    if (clear) {
      for (const node of [...log.children]) if (node.id !== 'intro') node.remove();
    } else if (hadMessages) {
      for (const node of log.querySelectorAll('li[data-seq]')) node.removeAttribute('data-seq');
      const divider = el('li', 'divider', t('resolved'));
      log.insertBefore(divider, log.querySelector('li[data-pending]'));
    }
    saveCache();
    if (id && welcomed && !clear && !quiet) { loadReceipts(); requestSync(); }
  }

  function requestSync() {
    if (!conv || syncing || !welcomed) return;
    syncing = true;
    send({ action: 'sync', conversation_id: conv, after_seq: lastSeq, limit: 100 });
    clearTimeout(syncTimer);
    syncTimer = setTimeout(() => { syncing = false; }, 8000);
  }

  function onMessages(f) {
    if (f.conversation_id !== conv) return;
    syncing = false;
    clearTimeout(syncTimer);
    for (const m of f.messages) apply(m);
    // A page is complete up to its last message; the last page up to the conversation's end.
    const top = f.messages.length ? f.messages[f.messages.length - 1].seq : lastSeq;
    lastSeq = Math.max(lastSeq, top, f.has_more ? 0 : f.last_seq);
    advance();
    if (f.has_more) return requestSync();
    countUnread();
  }

  /** Put one message on screen, once, in seq order; a gap asks the server for what is missing. */
  function apply(m, force) {
    if (m.conversation_id !== conv || m.internal || messages.has(m.seq) || (m.seq <= lastSeq && !force)) return;
    const stick = nearBottom();
    have.add(m.seq);
    messages.set(m.seq, m);
    if (m.sender_role === 'agent') {
      agentNames.set(m.sender_id, m.sender_name);
      hideTyping();
    }
    let li = m.sender_role === 'visitor' && log.querySelector(`li[data-pending][data-id="${CSS.escape(m.client_msg_id)}"]`);
    if (li) { // ours: the ack, a sync or another tab confirmed it
      const queued = outbox.some((o) => o.id === m.client_msg_id);
      delete li.dataset.pending;
      li.classList.remove('pending', 'failed');
      li.querySelector('.meta').textContent = time(m.created_at);
      if (queued) {
        dropFromOutbox(m.client_msg_id);
        setTimeout(flush);
      }
    } else {
      li = render(m);
    }
    place(li, m.seq);
    advance();
    scrollDown(stick || m.sender_role === 'visitor');
  }

  function advance() {
    while (have.has(lastSeq + 1)) lastSeq++;
    for (const seq of have) if (seq <= lastSeq) have.delete(seq);
    if (have.size) requestSync(); // a gap: something between lastSeq and a newer message is missing
    renderSeen();
    saveCache();
    scheduleRead();
  }

  function countUnread() {
    if (unreadCounted || open) return;
    unreadCounted = true;
    const seen = cfg && cfg.seen && cfg.seen.conv === conv ? cfg.seen.seq : 0;
    const count = [...messages.values()].filter((m) => m.sender_role === 'agent' && m.seq > seen).length;
    toHost('unread', { count });
  }

  async function loadReceipts() {
    const id = conv;
    try {
      const response = await fetch(`${cfg.apiUrl}/conversations/${encodeURIComponent(id)}`, {
        headers: { Authorization: 'Bearer ' + session.token },
      });
      if (!response.ok) return;
      const summary = await response.json();
      if (id === conv && summary.agent_read_seq > agentReadSeq) {
        agentReadSeq = summary.agent_read_seq;
        renderSeen();
      }
    } catch { /* offline: the next read frame will tell */ }
  }

  function scheduleRead() {
    if (!open || document.visibilityState !== 'visible' || !conv || !welcomed || lastSeq <= readSent) return;
    readSent = lastSeq;
    send({ action: 'read', conversation_id: conv, seq: lastSeq });
  }
  document.addEventListener('visibilitychange', scheduleRead);

  // ------------------------------------------------------------------ the outbox (one message in flight)
  function newId() {
    if (crypto.randomUUID) return crypto.randomUUID();
    return 'w' + Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
  }

  function enqueue(item) {
    item.id = item.id || newId();
    item.at = Date.now();
    outbox.push(item);
    saveOutbox();
    if (!item.li) showPending(item);
    scrollDown(true);
    flush();
  }

  function showPending(item) {
    const li = item.li || render({
      client_msg_id: item.id, sender_role: 'visitor', text: item.text || '', created_at: item.at,
      attachment: item.attachment,
    }, item.preview);
    li.dataset.id = item.id;
    li.dataset.pending = '';
    li.classList.add('pending');
    li.querySelector('.meta').textContent = t('sending');
    log.append(li);
  }

  function flush() {
    if (inflight || !welcomed || !outbox.length) return;
    const item = outbox[0];
    inflight = item.id;
    const frame = { action: 'message.send', client_msg_id: item.id, text: item.text || '' };
    if (conv) frame.conversation_id = conv;
    if (item.attachment) {
      const { file_id, name, content_type, size } = item.attachment;
      frame.attachment = { file_id, name, content_type, size };
    }
    send(frame);
    clearTimeout(inflightTimer);
    // No answer: send the same id again (the server stores it once and acks it again).
    inflightTimer = setTimeout(() => { if (inflight === item.id) { inflight = null; flush(); } }, 10000);
  }

  function dropFromOutbox(id) {
    outbox = outbox.filter((o) => o.id !== id);
    saveOutbox();
    if (inflight === id) {
      inflight = null;
      clearTimeout(inflightTimer);
    }
  }

  function onAck(f) {
    const item = outbox.find((o) => o.id === f.client_msg_id);
    if (!item) return;
    dropFromOutbox(item.id);
    if (f.conversation_id !== conv) switchConversation(f.conversation_id, false, true); // apply() finds any gap
    apply({
      conversation_id: f.conversation_id, seq: f.seq, client_msg_id: item.id, sender_role: 'visitor',
      sender_id: session.visitor_id, sender_name: '', text: item.text || '', created_at: f.created_at,
      attachment: item.attachment,
    });
    if (item.attachment) refreshMessage(f.conversation_id, f.seq);
    flush();
  }

  /** The ack has no download link for an attachment: fetch the stored message for the cache. */
  async function refreshMessage(id, seq) {
    try {
      const response = await fetch(`${cfg.apiUrl}/conversations/${encodeURIComponent(id)}/messages?after_seq=${seq - 1}&limit=1`,
        { headers: { Authorization: 'Bearer ' + session.token } });
      const body = response.ok ? await response.json() : { messages: [] };
      const stored = body.messages.find((m) => m.seq === seq);
      if (stored && id === conv && messages.has(seq)) {
        messages.set(seq, stored);
        saveCache();
      }
    } catch { /* the cache keeps the name and size */ }
  }

  function onError(f) {
    if (f.ref === 'sync') {
      syncing = false;
      if (f.code === 'conversation_not_found') switchConversation(null);
      return;
    }
    if (!inflight || f.ref !== inflight) return;
    const id = inflight;
    clearTimeout(inflightTimer);
    const again = (ms) => { inflightTimer = setTimeout(() => { if (inflight === id) { inflight = null; flush(); } }, ms); };
    if (f.code === 'rate_limited') return again(f.retry_after_ms || 1000);
    if (f.code === 'conversation_closed' || f.code === 'conversation_not_found') {
      switchConversation(null); // the next send starts a new conversation
      inflight = null;
      return flush();
    }
    if (f.code === 'sequence_conflict' || f.code === 'internal_error') return again(1000);
    const item = outbox.find((o) => o.id === id);
    dropFromOutbox(id);
    if (item) markFailed(item);
    flush();
  }

  function markFailed(item) {
    const li = log.querySelector(`li[data-id="${CSS.escape(item.id)}"]`);
    if (!li) return;
    li.classList.add('failed');
    const meta = li.querySelector('.meta');
    meta.textContent = t('failed') + ' · ';
    const retry = Object.assign(document.createElement('button'), { type: 'button', className: 'retry', textContent: t('retry') });
    retry.addEventListener('click', () => {
      li.classList.remove('failed');
      enqueue({ text: item.text, attachment: item.attachment, li, id: newId() });
      li.dataset.id = outbox[outbox.length - 1].id;
      meta.textContent = t('sending');
    });
    meta.append(retry);
  }

  // ------------------------------------------------------------------ rendering (text nodes only)
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text;
    return node;
  }

  function safeHref(value, allowBlob) {
    try {
      const url = new URL(value);
      if (url.protocol === 'http:' || url.protocol === 'https:' || (allowBlob && url.protocol === 'blob:')) return url.href;
    } catch { /* not a URL */ }
    return null;
  }

  function linkify(parent, text) {
    let last = 0;
    for (const match of text.matchAll(URLS)) {
      const url = match[0].replace(/[.,;:!?)\]}'"]+$/, '');
      const href = safeHref(url);
      parent.append(text.slice(last, match.index));
      if (href) {
        const a = el('a', '', url);
        a.href = href;
        a.target = '_blank';
        a.rel = 'noopener noreferrer nofollow';
        parent.append(a);
      } else {
        parent.append(url);
      }
      last = match.index + url.length;
    }
    parent.append(text.slice(last));
  }

  function formatSize(bytes) {
    return bytes >= 1048576 ? (bytes / 1048576).toFixed(1) + ' MB' : Math.max(1, Math.round(bytes / 1024)) + ' KB';
  }

  function attachmentView(a, preview) {
    const href = preview || safeHref(a.url);
    const image = /^image\/(png|jpeg|gif|webp)$/.test(a.content_type);
    if (image && href) {
      const link = el('a', 'thumb');
      link.href = href;
      link.target = '_blank';
      link.rel = 'noopener noreferrer';
      const img = el('img');
      img.alt = a.name;
      img.loading = 'lazy';
      img.decoding = 'async';
      img.src = href;
      link.append(img);
      return link;
    }
    const box = el(href ? 'a' : 'div', 'file');
    if (href) {
      box.href = href;
      box.target = '_blank';
      box.rel = 'noopener noreferrer';
    }
    const ext = (a.name.split('.').pop() || 'file').slice(0, 4);
    const info = el('span');
    info.append(el('span', 'name', a.name), el('br'), el('span', 'size', formatSize(a.size)));
    info.style.minWidth = '0';
    box.append(el('span', 'ext', ext), info);
    return box;
  }

  function time(ms) {
    try {
      return new Intl.DateTimeFormat(locale === 'zh' ? 'zh-CN' : 'en', { hour: '2-digit', minute: '2-digit' }).format(ms);
    } catch { return ''; }
  }

  function render(m, preview) {
    const mine = m.sender_role === 'visitor';
    const li = el('li', 'm ' + (mine ? 'me' : 'them'));
    li.dataset.id = m.client_msg_id;
    li.dataset.sender = mine ? 'me' : m.sender_id;
    if (!mine) li.append(el('span', 'who-name', m.sender_name || t('agent')));
    const bubble = el('div', 'bubble');
    linkify(bubble, m.text || '');
    li.append(bubble);
    if (m.attachment) li.append(attachmentView(m.attachment, preview));
    li.append(el('span', 'meta', time(m.created_at || Date.now())));
    return li;
  }

  /** Insert in seq order: after every message with a lower seq, before the pending ones. */
  function place(li, seq) {
    li.dataset.seq = String(seq);
    li.remove();
    let ref = null;
    let node = log.lastElementChild;
    while (node && (node.dataset.pending != null || node === seenRow ||
      (node.dataset.seq && +node.dataset.seq > seq))) {
      ref = node;
      node = node.previousElementSibling;
    }
    log.insertBefore(li, ref);
    for (const n of [li, li.nextElementSibling]) {
      const prev = n && n.previousElementSibling;
      if (n && n.dataset.sender) n.classList.toggle('same', !!prev && prev.dataset.sender === n.dataset.sender);
    }
  }

  function renderSeen() {
    const mine = [...log.querySelectorAll('li.me[data-seq]')].pop();
    if (mine && +mine.dataset.seq <= agentReadSeq) {
      if (mine.nextElementSibling !== seenRow) mine.after(seenRow);
    } else {
      seenRow.remove();
    }
  }

  const nearBottom = () => log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  const scrollDown = (force) => { if (force) log.scrollTop = log.scrollHeight; };

  // ------------------------------------------------------------------ typing, both ways
  let typingTimer = 0;
  function onTyping(f) {
    if (f.role !== 'agent' || f.conversation_id !== conv) return;
    if (f.state !== 'start') return hideTyping();
    const stick = nearBottom();
    $('typing-text').textContent = `${agentNames.get(f.sender_id) || t('agent')} ${t('typing')}`;
    typingRow.hidden = false;
    scrollDown(stick);
    clearTimeout(typingTimer);
    typingTimer = setTimeout(hideTyping, 6000);
  }
  function hideTyping() {
    clearTimeout(typingTimer);
    typingRow.hidden = true;
  }

  let draftTimer = 0;
  let idleTimer = 0;
  let draftSentAt = 0;
  let lastDraft = '';
  function typingFrame(stateName, draft) {
    const frame = { action: 'typing', state: stateName };
    if (conv) frame.conversation_id = conv;
    if (draft) frame.draft = draft;
    return frame;
  }
  function draftChanged() {
    if (draftTimer) return; // throttled: at most one draft every 400 ms, the latest text wins
    draftTimer = setTimeout(sendDraft, Math.max(0, 400 - (Date.now() - draftSentAt)));
  }
  function sendDraft() {
    draftTimer = 0;
    if (!welcomed) return;
    const draft = input.value.replace(CONTROL, '').slice(0, 1000);
    if (!draft.trim()) return stopTyping();
    if (draft === lastDraft) return;
    lastDraft = draft;
    draftSentAt = Date.now();
    send(typingFrame('start', draft));
    clearTimeout(idleTimer);
    idleTimer = setTimeout(stopTyping, 5000);
  }
  function stopTyping() {
    clearTimeout(idleTimer);
    clearTimeout(draftTimer);
    draftTimer = 0;
    if (!lastDraft) return;
    lastDraft = '';
    if (welcomed) send(typingFrame('stop'));
  }

  // ------------------------------------------------------------------ composer
  function autosize() {
    input.style.height = 'auto';
    input.style.height = Math.min(120, input.scrollHeight) + 'px';
    sendButton.disabled = !input.value.trim();
  }
  // The box holds at most 4,000 characters (maxlength): a paste past it is cut by the browser,
  // so the visitor is told, once each time the limit is reached, rather than losing the rest unseen.
  let atLimit = false;
  input.addEventListener('input', () => {
    autosize();
    draftChanged();
    const full = input.value.length >= input.maxLength;
    if (full && !atLimit) notice(t('tooLong'));
    atLimit = full;
  });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      $('composer').requestSubmit();
    }
  });
  $('composer').addEventListener('submit', (event) => {
    event.preventDefault();
    const text = input.value.replace(CONTROL, '').trim().slice(0, 4000);
    if (!text || !session) return;
    input.value = '';
    autosize();
    stopTyping();
    enqueue({ text });
  });
  $('close').addEventListener('click', () => toHost('close', {}));
  document.addEventListener('keydown', (event) => {
    if (event.key !== 'Escape') return;
    if (!emojiBox.hidden) {
      toggleEmoji(false);
      emojiButton.focus();
    } else {
      toHost('close', {});
    }
  });

  function toggleEmoji(show) {
    if (show && !emojiBox.firstChild) {
      for (const symbol of EMOJI) {
        const button = el('button', '', symbol);
        button.type = 'button';
        button.addEventListener('click', () => {
          input.setRangeText(symbol, input.selectionStart, input.selectionEnd, 'end');
          toggleEmoji(false);
          input.focus();
          autosize();
          draftChanged();
        });
        emojiBox.append(button);
      }
    }
    emojiBox.hidden = !show;
    emojiButton.setAttribute('aria-expanded', String(show));
    if (show) emojiBox.firstChild.focus();
  }
  emojiButton.addEventListener('click', () => toggleEmoji(emojiBox.hidden));

  // ------------------------------------------------------------------ files: presigned POST straight to storage
  attachButton.addEventListener('click', () => fileInput.click());
  fileInput.addEventListener('change', () => {
    const file = fileInput.files && fileInput.files[0];
    fileInput.value = '';
    if (file) upload(file);
  });
  input.addEventListener('paste', (event) => {
    const file = event.clipboardData && event.clipboardData.files[0];
    if (file) {
      event.preventDefault();
      upload(file);
    }
  });

  async function upload(file) {
    const type = file.type || 'application/octet-stream';
    if (!UPLOAD_TYPES.includes(type)) return notice(t('badType'));
    if (file.size > MAX_BYTES) return notice(t('tooBig'));
    if (!conv) return notice(t('needConversation'));
    const meta = { name: file.name.slice(0, 200) || 'file', content_type: type, size: file.size };
    const preview = type.startsWith('image/') ? URL.createObjectURL(file) : null;
    const li = render({ client_msg_id: 'upload', sender_role: 'visitor', text: '', attachment: meta }, preview);
    li.dataset.pending = '';
    li.classList.add('pending');
    li.querySelector('.meta').textContent = t('uploading');
    log.append(li);
    scrollDown(true);
    try {
      const response = await fetch(cfg.apiUrl + '/uploads', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + session.token },
        body: JSON.stringify(Object.assign({ conversation_id: conv }, meta)),
      });
      if (!response.ok) throw new Error('uploads ' + response.status);
      const grant = await response.json();
      const form = new FormData();
      for (const [key, value] of Object.entries(grant.upload.fields || {})) form.append(key, value);
      form.append('file', file);
      const stored = await fetch(grant.upload.url, { method: 'POST', body: form });
      if (!stored.ok) throw new Error('storage ' + stored.status);
      const item = { text: '', attachment: Object.assign({ file_id: grant.file_id }, meta), li };
      li.dataset.id = newId();
      item.id = li.dataset.id;
      li.querySelector('.meta').textContent = t('sending');
      enqueue(item);
    } catch {
      li.classList.add('failed');
      li.querySelector('.meta').textContent = t('uploadFailed');
    }
  }

  setLocale(locale);
  autosize();
  // Ready once bot.js, queue.js and tickets.js (deferred, after this file) have added their
  // handlers: a frame the host kept for us (a ticket.solved while closed) must find them.
  // (This file is deferred, so DOMContentLoaded is still to come: it fires after them.)
  if (document.readyState === 'complete') setTimeout(() => toHost('ready', {}), 0);
  else document.addEventListener('DOMContentLoaded', () => toHost('ready', {}), { once: true });
  // The extension point widget/bot.js (the knowledge base's buttons, suggestions and FAQ),
  // queue.js and tickets.js (request lookup and rating) use.
  window.kefuFrame = {
    on: (action, handler) => fromServer.set(action, handler),
    send,
    say: (text) => enqueue({ text }),
    state: () => ({ session, conv, locale, apiUrl: cfg && cfg.apiUrl, siteKey: cfg && cfg.siteKey, online: welcomed }),
    // an element with attributes and, optionally, text (always as textContent)
    el: (tag, attrs = {}, text) => {
      const node = document.createElement(tag);
      for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
      if (text != null) node.textContent = text;
      return node;
    },
  };
})();
