/* Kefu chat panel: the knowledge base and the bot (plain ES2020, no build step).
 *
 * Uses the panel's extension point (window.kefuFrame, end of frame.js):
 * - buttons under the bot's messages (`bot.prompt`): "did this help?", the articles a
 *   clarifying question offers, "talk to a person", articles to read while waiting after a
 *   hand-over (they open the article, which has a "this answered my question" button);
 * - "did you mean" suggestions (up to 3 published articles) while the visitor types;
 * - a FAQ browser (published articles by category) behind a header button.
 * Articles are shown as text only: the HTML the API renders is parsed with DOMParser and
 * only its text is put in the page.
 */
(() => {
  'use strict';
  const kefu = window.kefuFrame;
  if (!kefu) return;
  const STRINGS = {
    en: {
      helped: 'Did this help?', yes: 'Yes', no: 'No', none: 'None of these', human: 'Talk to a person',
      suggest: 'Suggested answers', faq: 'Help articles', back: 'Back', empty: 'No articles yet.',
      thanks: 'Thanks for the feedback!', solved: 'This answered my question',
    },
    zh: {
      helped: '这个回答有帮助吗？', yes: '有帮助', no: '没帮助', none: '都不是', human: '转人工',
      suggest: '猜你想问', faq: '常见问题', back: '返回', empty: '暂无文章。', thanks: '感谢您的反馈！',
      solved: '这篇解答了我的问题',
    },
  };
  // `lang`: a bot message's own language (its prompt's `locale`), else the widget's.
  const t = (key, lang) => STRINGS[(lang || kefu.state().locale) === 'zh' ? 'zh' : 'en'][key];
  const $ = (id) => document.getElementById(id);
  const el = (tag, className, text) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text;
    return node;
  };

  async function api(path) {
    const s = kefu.state();
    if (!s.session || !s.apiUrl) return null;
    try {
      const response = await fetch(`${s.apiUrl}${path}`, { headers: { Authorization: 'Bearer ' + s.session.token } });
      return response.ok ? response.json() : null;
    } catch { return null; }
  }

  // ------------------------------------------------------------------ buttons under bot messages

  const pending = new Map(); // seq → prompt frame, for a message not drawn yet

  kefu.on('bot.prompt', (f) => {
    pending.set(f.seq, f);
    drawPrompts();
  });
  new MutationObserver(drawPrompts).observe($('log'), { childList: true });

  function drawPrompts() {
    for (const [seq, f] of pending) {
      const li = $('log').querySelector(`li[data-seq="${seq}"]`);
      if (!li) continue;
      pending.delete(seq);
      li.querySelectorAll('.kb-actions').forEach((n) => n.remove());
      li.insertBefore(actions(f), li.querySelector('.meta'));
    }
    retire();
  }

  // Only the latest reply's buttons are live: once the bot (or a person) has written again, the
  // buttons under earlier replies would do nothing (a hand-off, a newer answer), so they are
  // disabled. Articles offered to read while waiting stay: they still open.
  function retire() {
    const theirs = [...$('log').querySelectorAll('li.m.them[data-seq]')].map((li) => Number(li.dataset.seq));
    const latest = Math.max(0, ...theirs);
    for (const box of $('log').querySelectorAll('.kb-actions:not([data-kind="read"])')) {
      if (Number(box.closest('li').dataset.seq) < latest) {
        box.querySelectorAll('button').forEach((b) => { b.disabled = true; });
      }
    }
  }

  function actions(f) {
    const box = el('div', 'kb-actions');
    box.dataset.kind = f.kind;
    if (f.kind === 'read') { // handed over: articles to read while waiting; one may solve it
      const solved = (id) => {
        kefu.send({ action: 'bot.solved', conversation_id: f.conversation_id, article_id: id });
        box.querySelectorAll('button').forEach((x) => { x.disabled = true; });
      };
      for (const c of f.candidates || []) {
        const b = el('button', 'kb-chip kb-read', c.title);
        b.type = 'button';
        b.addEventListener('click', () => openArticle(c.id, () => solved(c.id)));
        box.append(b);
      }
      return box;
    }
    const button = (label, onClick, primary) => {
      const b = el('button', primary ? 'kb-chip primary' : 'kb-chip', label);
      b.type = 'button';
      b.addEventListener('click', () => { box.querySelectorAll('button').forEach((x) => { x.disabled = true; }); onClick(b); });
      box.append(b);
    };
    if (f.kind === 'feedback') {
      button(t('yes', f.locale), (b) => { b.classList.add('chosen'); feedback(f, true); }, true);
      button(t('no', f.locale), (b) => { b.classList.add('chosen'); feedback(f, false); });
    } else if (f.kind === 'choose') {
      for (const c of f.candidates || []) {
        button(c.title, (b) => { b.classList.add('chosen'); choose(f, c.id); }, true);
      }
      button(t('none', f.locale), (b) => { b.classList.add('chosen'); choose(f, null); });
    }
    button(t('human', f.locale), (b) => { b.classList.add('chosen'); kefu.send({ action: 'bot.handoff', conversation_id: f.conversation_id }); });
    return box;
  }

  function feedback(f, helpful) {
    kefu.send({ action: 'bot.feedback', conversation_id: f.conversation_id, seq: f.seq, helpful });
  }

  function choose(f, articleId) {
    kefu.send({ action: 'bot.choose', conversation_id: f.conversation_id, article_id: articleId });
  }

  // ------------------------------------------------------------------ "did you mean" while typing

  const input = $('input');
  const suggestions = el('ul', 'kb-suggest');
  suggestions.hidden = true;
  suggestions.setAttribute('role', 'listbox');
  $('composer').before(suggestions);
  let timer = 0;
  let asked = '';

  input.addEventListener('input', () => {
    clearTimeout(timer);
    const q = input.value.trim();
    const enough = /[\u3400-\u9fff]{2}/.test(q) || q.length >= 4;
    if (!enough) { hideSuggestions(); return; }
    timer = setTimeout(() => suggest(q), 350);
  });
  $('composer').addEventListener('submit', hideSuggestions);

  async function suggest(q) {
    asked = q;
    // The search reads at most 500 characters (code points, as the server counts): a longer
    // draft is matched by its start instead of being refused.
    const head = Array.from(q).slice(0, 500).join('');
    const body = await api(`/kb/public/search?limit=3&q=${encodeURIComponent(head)}`);
    if (asked !== q || input.value.trim() !== q) return; // typed on meanwhile
    const results = (body && body.results) || [];
    suggestions.replaceChildren();
    if (!results.length) { hideSuggestions(); return; }
    suggestions.append(el('li', 'kb-suggest-title', t('suggest')));
    for (const r of results) {
      const item = el('li');
      const b = el('button', 'kb-suggestion', r.title);
      b.type = 'button';
      b.addEventListener('click', () => { hideSuggestions(); openArticle(r.id); });
      item.append(b);
      suggestions.append(item);
    }
    suggestions.hidden = false;
  }

  function hideSuggestions() {
    asked = '';
    suggestions.hidden = true;
  }

  // ------------------------------------------------------------------ FAQ browser and article view

  const sheet = el('section', 'kb-sheet');
  sheet.hidden = true;
  $('log').after(sheet);
  const faqButton = el('button', 'icon kb-faq');
  faqButton.type = 'button';
  faqButton.textContent = '?';
  $('close').before(faqButton);
  const label = () => { faqButton.title = t('faq'); faqButton.setAttribute('aria-label', t('faq')); };
  label();
  faqButton.addEventListener('click', () => (sheet.hidden ? openFaq() : closeSheet()));

  function closeSheet() {
    sheet.hidden = true;
    $('log').hidden = false;
  }

  function showSheet(...children) {
    label();
    const back = el('button', 'kb-back', '← ' + t('back'));
    back.type = 'button';
    back.addEventListener('click', closeSheet);
    sheet.replaceChildren(back, ...children);
    sheet.hidden = false;
    $('log').hidden = true;
  }

  async function openFaq() {
    const locale = kefu.state().locale === 'zh' ? 'zh' : 'en';
    const body = await api(`/kb/public/articles?locale=${locale}`);
    const articles = (body && body.articles) || [];
    const list = el('div', 'kb-faq-list');
    list.append(el('h2', null, t('faq')));
    if (!articles.length) list.append(el('p', 'kb-empty', t('empty')));
    let category = null;
    let ul = null;
    for (const a of articles) {
      if (a.category !== category) {
        category = a.category;
        list.append(el('h3', null, category || '—'));
        ul = el('ul');
        list.append(ul);
      }
      const b = el('button', 'kb-suggestion', a.title);
      b.type = 'button';
      b.addEventListener('click', () => openArticle(a.id));
      const li = el('li');
      li.append(b);
      ul.append(li);
    }
    showSheet(list);
  }

  async function openArticle(id, onSolved) {
    const a = await api(`/kb/public/articles/${encodeURIComponent(id)}`);
    if (!a) return;
    const view = el('article', 'kb-article');
    view.append(el('h2', null, a.title));
    // Text only: block elements become paragraphs, list items keep a bullet.
    const doc = new DOMParser().parseFromString(a.body_html, 'text/html');
    for (const block of doc.body.querySelectorAll('p, li, h1, h2, h3, h4, pre, td')) {
      if (block.closest('li') && block.tagName !== 'LI') continue;
      const text = block.textContent.trim();
      if (text) view.append(el('p', block.tagName === 'LI' ? 'kb-li' : null, (block.tagName === 'LI' ? '• ' : '') + text));
    }
    if (onSolved) { // opened from the hand-over's reading list: the visitor can say it helped
      const done = el('button', 'kb-chip primary kb-solved', t('solved'));
      done.type = 'button';
      done.addEventListener('click', () => { onSolved(); closeSheet(); });
      view.append(done);
    }
    showSheet(view);
  }
})();
