/* Kefu chat panel: the visitor's requests (tickets) — plain ES2020, no build step.
 *
 * Uses the panel's extension point (window.kefuFrame, end of frame.js):
 * - "Look up a request": number + the email it was opened with → its status
 *   (POST /v1/public/tickets/lookup; rate-limited, one answer for unknown and wrong);
 * - `ticket.solved` (pushed when a request of this visitor is solved): "Is it solved?" with a
 *   1-5 rating, a comment and "Not solved" (POST /v1/public/tickets/rating with the frame's
 *   rating_token).
 * Everything from the server is set with textContent.
 */
(() => {
  'use strict';
  const kefu = window.kefuFrame;
  if (!kefu) return;
  const STRINGS = {
    en: {
      open: 'Look up a request', number: 'Request number', email: 'Email it was opened with', find: 'Look up',
      found: (n, s, st) => `Request #${n} “${s}”: ${st}`,
      unknown: 'We found no request with that number and email.',
      tooMany: 'Too many lookups. Please try again in a minute.', failed: 'That did not work. Please try again.',
      status: { new: 'received', open: 'being worked on', pending: 'waiting for your reply', on_hold: 'on hold',
        solved: 'solved', closed: 'closed' },
      solved: (n, s) => `Your request #${n} “${s}” is solved. Is everything sorted?`,
      rate: 'How did we do? 1 (poor) to 5 (great)', star: (n) => `${n} of 5`, comment: 'Anything to add? (optional)',
      send: 'Send rating', notSolved: 'Not solved', pick: 'Please pick 1 to 5 first.',
      thanks: 'Thank you for your rating!', reopened: 'Sorry it is not solved yet: it is open again and back with its agent.',
    },
    zh: {
      open: '查询工单', number: '工单号', email: '提交时使用的邮箱', find: '查询',
      found: (n, s, st) => `工单 #${n}「${s}」：${st}`,
      unknown: '没有找到该工单号与邮箱对应的工单。',
      tooMany: '查询次数过多，请一分钟后再试。', failed: '操作失败，请重试。',
      status: { new: '已受理', open: '处理中', pending: '等待您的回复', on_hold: '暂缓处理', solved: '已解决', closed: '已关闭' },
      solved: (n, s) => `您的工单 #${n}「${s}」已解决。问题解决了吗？`,
      rate: '请为我们的服务打分：1（差）到 5（好）', star: (n) => `${n} 分`, comment: '还有什么想说的？（可选）',
      send: '提交评价', notSolved: '没有解决', pick: '请先选择 1 到 5 分。',
      thanks: '感谢您的评价！', reopened: '很抱歉问题仍未解决：工单已重新打开，并交回原客服处理。',
    },
  };
  const t = (key) => STRINGS[kefu.state().locale === 'zh' ? 'zh' : 'en'][key];
  const $ = (id) => document.getElementById(id);
  const el = kefu.el;

  async function post(path, body) {
    const response = await fetch(kefu.state().apiUrl + path, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
    let data = null;
    try { data = await response.json(); } catch { /* not JSON */ }
    return { status: response.status, data };
  }

  // ------------------------------------------------------------------ look up a request
  const toggle = el('button', { type: 'button', class: 't-link', 'aria-expanded': 'false' });
  const box = el('div', { class: 't-box', id: 'ticket-lookup', hidden: '' });
  toggle.setAttribute('aria-controls', 'ticket-lookup');
  $('brand').before(toggle, box);
  toggle.addEventListener('click', () => {
    box.hidden = !box.hidden;
    toggle.setAttribute('aria-expanded', String(!box.hidden));
    if (!box.hidden) lookupForm();
  });

  function lookupForm() {
    const number = el('input', { type: 'text', inputmode: 'numeric', pattern: '#?[0-9]{1,10}', required: '', maxlength: '11',
      placeholder: t('number'), 'aria-label': t('number') });
    const email = el('input', { type: 'email', required: '', maxlength: '254', placeholder: t('email'), 'aria-label': t('email') });
    const answer = el('p', { class: 't-answer', role: 'status', 'aria-live': 'polite' });
    const form = el('form', { class: 't-form' });
    form.append(number, email, el('button', { type: 'submit', class: 't-send' }, t('find')), answer);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      answer.textContent = '';
      const siteKey = kefu.state().siteKey;
      try {
        const { status, data } = await post('/public/tickets/lookup', {
          site_key: siteKey, number: Number(number.value.replace('#', '')), email: email.value.trim(),
        });
        if (status === 200) answer.textContent = t('found')(data.number, data.subject, t('status')[data.status] || data.status);
        else if (status === 404) answer.textContent = t('unknown');
        else if (status === 429) answer.textContent = t('tooMany');
        else answer.textContent = t('failed');
      } catch {
        answer.textContent = t('failed');
      }
    });
    box.replaceChildren(form);
    number.focus();
  }

  // ------------------------------------------------------------------ rate a solved request
  const card = el('div', { class: 't-card', id: 'ticket-rating', role: 'region', hidden: '' });
  $('composer').before(card);

  kefu.on('ticket.solved', (f) => {
    if (!f.rating_token) return;
    let score = 0;
    const stars = el('div', { class: 't-stars', role: 'group', 'aria-label': t('rate') });
    for (let n = 1; n <= 5; n += 1) {
      const star = el('button', { type: 'button', class: 't-star', 'aria-pressed': 'false', 'aria-label': t('star')(n) }, String(n));
      star.addEventListener('click', () => {
        score = n;
        for (const s of stars.children) s.setAttribute('aria-pressed', String(Number(s.textContent) === n));
        if (note.textContent === t('pick')) note.textContent = '';
      });
      stars.append(star);
    }
    const comment = el('textarea', { rows: '2', maxlength: '2000', placeholder: t('comment'), 'aria-label': t('comment') });
    const note = el('p', { class: 't-answer', role: 'status', 'aria-live': 'polite' });
    const send = el('button', { type: 'button', class: 't-send' }, t('send'));
    const reopen = el('button', { type: 'button', class: 't-plain' }, t('notSolved'));
    const rate = async (again) => {
      if (!again && !score) { note.textContent = t('pick'); return; }
      send.disabled = reopen.disabled = true;
      try {
        const body = { token: f.rating_token, score: score || 1, reopen: again };
        if (comment.value.trim()) body.comment = comment.value.trim();
        const { status } = await post('/public/tickets/rating', body);
        if (status !== 200) throw new Error(String(status));
        card.replaceChildren(el('p', { class: 't-answer' }, t(again ? 'reopened' : 'thanks')));
      } catch {
        note.textContent = t('failed');
        send.disabled = reopen.disabled = false;
      }
    };
    send.addEventListener('click', () => rate(false));
    reopen.addEventListener('click', () => rate(true));
    const actions = el('div', { class: 't-actions' });
    actions.append(reopen, send);
    card.replaceChildren(el('p', {}, t('solved')(f.number, f.subject)), el('p', { class: 't-label' }, t('rate')),
      stars, comment, actions, note);
    card.hidden = false;
  });

  // the panel's language can change after load
  const label = () => { toggle.textContent = t('open'); };
  label();
  new MutationObserver(label).observe(document.documentElement, { attributes: true, attributeFilter: ['lang'] });
})();
