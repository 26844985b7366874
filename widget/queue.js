/* Kefu chat panel: the visitor's place in the queue (plain ES2020, no build step).
 *
 * Uses the panel's extension point (window.kefuFrame, end of frame.js):
 * - `queue.status` queued: "You are number 3 in line (about 2 min)", updated live;
 * - `queue.status` assigned: "Alice has joined", briefly;
 * - `queue.status` offline: nobody can answer now: a small form to leave a message and an
 *   email address (`message.leave`), answered by `message.left`.
 * Everything is set with textContent.
 */
(() => {
  'use strict';
  const kefu = window.kefuFrame;
  if (!kefu) return;
  const STRINGS = {
    en: {
      queued: (n, m) => (n === 1 ? 'You are next in line' : `You are number ${n} in line`) + (m ? ` (about ${m} min)` : ''),
      joined: (name) => `${name || 'An agent'} has joined the chat`,
      offline: 'Nobody can answer right now. Leave a message and we will reply by email.',
      email: 'Your email', name: 'Your name (optional)', message: 'Your message', send: 'Leave message',
      thanks: 'Thank you — we will reply by email.',
    },
    zh: {
      queued: (n, m) => (n === 1 ? '下一位就是您' : `您前面还有 ${n - 1} 位`) + (m ? `（约 ${m} 分钟）` : ''),
      joined: (name) => `${name || '客服'} 已加入对话`,
      offline: '当前暂无客服在线。请留言，我们会通过邮件回复您。',
      email: '您的邮箱', name: '您的称呼（可选）', message: '留言内容', send: '提交留言',
      thanks: '感谢留言，我们会尽快通过邮件回复。',
    },
  };
  const t = (key) => STRINGS[kefu.state().locale === 'zh' ? 'zh' : 'en'][key];
  const $ = (id) => document.getElementById(id);
  const el = kefu.el;

  const bar = el('div', { class: 'q-bar', id: 'queue', role: 'status', 'aria-live': 'polite', hidden: '' });
  $('composer').before(bar);
  let hideTimer = null;
  let left = false;
  // A message left for this conversation is remembered in the browser, so a reload or another
  // tab thanks the visitor again instead of offering the form a second time.
  let offeredFor = null; // the conversation the form was offered for (the server's frame names it)
  const leftKey = (conv) => `kefu.left.${kefu.state().siteKey}.${conv}`;
  const leftBefore = (conv) => { try { return localStorage.getItem(leftKey(conv)) === '1'; } catch { return false; } };

  function show(...children) {
    clearTimeout(hideTimer);
    bar.replaceChildren(...children);
    bar.hidden = false;
  }

  function leaveForm() {
    const email = el('input', { type: 'email', required: '', maxlength: '254', placeholder: t('email'), 'aria-label': t('email') });
    const name = el('input', { type: 'text', maxlength: '200', placeholder: t('name'), 'aria-label': t('name') });
    const text = el('textarea', { required: '', maxlength: '4000', rows: '2', placeholder: t('message'), 'aria-label': t('message') });
    const form = el('form', { class: 'q-form' });
    form.append(email, name, text, el('button', { type: 'submit', class: 'q-send' }, t('send')));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const frame = { action: 'message.leave', email: email.value.trim(), text: text.value.trim() };
      if (name.value.trim()) frame.name = name.value.trim();
      kefu.send(frame);
    });
    return form;
  }

  kefu.on('queue.status', (f) => {
    if (f.conversation_id !== kefu.state().conv && kefu.state().conv) return;
    if (f.state === 'queued') {
      show(el('span', {}, t('queued')(f.position || 1, f.expected_wait_ms ? Math.max(1, Math.round(f.expected_wait_ms / 60000)) : 0)));
    } else if (f.state === 'assigned') {
      show(el('span', {}, t('joined')(f.agent_name)));
      hideTimer = setTimeout(() => { bar.hidden = true; }, 4000);
    } else if (f.state === 'offline' && f.leave_message && !left) {
      offeredFor = f.conversation_id;
      if (leftBefore(f.conversation_id)) show(el('span', {}, t('thanks')));
      else show(el('p', {}, t('offline')), leaveForm());
    }
  });
  kefu.on('message.left', () => {
    left = true;
    try { if (offeredFor) localStorage.setItem(leftKey(offeredFor), '1'); } catch { /* blocked: this page still knows */ }
    show(el('span', {}, t('thanks')));
  });
})();
