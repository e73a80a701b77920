// The sandbox page: one chat per identity, fed by server-sent events.
// Every text is put in the page as text nodes; bot formatting arrives as a tree of allowed
// nodes (see sandbox/tghtml.py) and is rebuilt here element by element, never as HTML.
"use strict";

const T = {
  id: {
    subtitle: "Sandbox offline: bot asli, Telegram tiruan", plus_hour: "+1 jam",
    plus_day: "+1 hari", plus_week: "+7 hari", jump: "Lompat", people: "Pilih identitas",
    jobs: "Jadwal yang dijalankan", menu: "Menu", send: "Kirim", write: "Tulis pesan…",
    reply: "Balas…", edited: "diedit", fill_cek: "Isi /cek", copy: "Salin", copied: "Disalin",
    no_jobs: "Belum ada lompatan waktu.", planned: "pesan direncanakan", failed: "gagal",
    running: "Menjalankan jadwal…", no_commands: "Belum ada menu.", open_map: "Buka peta",
    citizen: "Warga", official: "Perangkat desa", staff: "Petugas", admin: "Admin",
    point: "Titik layanan", area: "Wilayah", born: "Lahir", try: "Coba",
    runs_none: "Tidak ada jadwal yang terlewati.",
  },
  en: {
    subtitle: "Offline sandbox: the real bot, a simulated Telegram", plus_hour: "+1 hour",
    plus_day: "+1 day", plus_week: "+7 days", jump: "Jump", people: "Choose who you are",
    jobs: "Scheduled jobs run", menu: "Menu", send: "Send", write: "Write a message…",
    reply: "Reply…", edited: "edited", fill_cek: "Fill /cek", copy: "Copy", copied: "Copied",
    no_jobs: "No time jump yet.", planned: "messages planned", failed: "failed",
    running: "Running scheduled jobs…", no_commands: "No menu yet.", open_map: "Open map",
    citizen: "Citizen", official: "Village official", staff: "Staff", admin: "Admin",
    point: "Service point", area: "Area", born: "Born", try: "Try",
    runs_none: "No scheduled job was passed.",
  },
};
const TAGS = { b: "b", i: "i", u: "u", s: "s", code: "code", pre: "pre", a: "a", blockquote: "blockquote", spoiler: "span" };
const SAFE_LINK = /^(https?:\/\/|tg:\/\/)/i;

const state = {
  lang: localStorage.getItem("sandbox-lang") || "id",
  session: null, people: [], current: null, clock: null, lastRuns: null,
  chats: new Map(), unread: new Map(), historyUpTo: 0, replyTo: null,
};
const $ = (id) => document.getElementById(id);
const t = (key) => T[state.lang][key] || key;

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

function build(nodes, parent) {
  for (const node of nodes || []) {
    if (typeof node === "string") { parent.append(document.createTextNode(node)); continue; }
    const tag = TAGS[node.t];
    if (!tag) { build(node.c, parent); continue; }
    const element = document.createElement(tag);
    if (node.t === "spoiler") {
      element.className = "spoiler";
      element.addEventListener("click", () => element.classList.add("revealed"));
    }
    if (node.t === "a" && typeof node.href === "string" && SAFE_LINK.test(node.href)) {
      element.href = node.href; element.target = "_blank"; element.rel = "noopener noreferrer";
    }
    build(node.c, element);
    parent.append(element);
  }
}

// --- talking to the sandbox ---

async function post(path, body, isForm = false) {
  const options = { method: "POST", headers: { "X-Sandbox": "1" } };
  if (isForm) options.body = body;
  else { options.body = JSON.stringify(body); options.headers["Content-Type"] = "application/json"; }
  const response = await fetch(path, options);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) { toast(data.error || response.statusText); throw new Error(data.error); }
  return data;
}

function connect() {
  const source = new EventSource("/api/events");
  source.onopen = async () => {
    const fresh = await (await fetch("/api/state")).json();
    if (state.session && fresh.session !== state.session) location.reload();  // a new sandbox
  };
  source.onmessage = (message) => handle(JSON.parse(message.data));
}

function handle(event) {
  if (event.type === "message") return onMessage(event);
  if (event.type === "delete") return onDelete(event);
  if (event.type === "answer") {
    if (event.chat_id !== state.current) return;
    return event.alert ? showAlert(event.text) : toast(event.text);
  }
  if (event.type === "clock") { state.clock = event.clock; state.lastRuns = event.runs; renderClock(); renderRuns(); }
  if (event.type === "tick") { state.clock = event.clock; renderClock(); }
  if (event.type === "commands" && !$("menu").hidden) openMenu();
}

function chat(id) {
  if (!state.chats.has(id)) state.chats.set(id, new Map());
  return state.chats.get(id);
}

function onMessage(event) {
  const messages = chat(event.chat_id);
  const old = messages.get(event.message_id);
  const merged = old ? { ...event, at: old.at, time: old.time, day: old.day } : event;
  messages.set(event.message_id, merged);
  if (event.chat_id !== state.current) {
    if (!old && event.from === "bot" && event.seq > state.historyUpTo) state.unread.set(event.chat_id, (state.unread.get(event.chat_id) || 0) + 1);
    return renderPeople();
  }
  const box = $("messages");
  const existing = box.querySelector(`[data-id="${event.message_id}"]`);
  if (existing) {
    const node = renderMessage(merged);
    node.dataset.day = existing.dataset.day;
    existing.replaceWith(node);
  } else appendMessage(box, merged);
  renderKeyboards();
  if (!existing) box.scrollTop = box.scrollHeight;
}

function onDelete(event) {
  chat(event.chat_id).delete(event.message_id);
  if (event.chat_id !== state.current) return;
  const node = $("messages").querySelector(`[data-id="${event.message_id}"]`);
  if (node) node.remove();
  renderKeyboards();
}

// --- drawing ---

function renderMessage(m) {
  const bubble = el("div", { class: `msg ${m.from}`, dataset: { id: m.message_id } });
  if (m.reply_to) bubble.append(el("div", { class: "quote" }, m.reply_to.text));
  if (m.media) bubble.append(renderMedia(m.media));
  if (m.nodes.length) { const text = el("div", { class: "text" }); build(m.nodes, text); bubble.append(text); }
  bubble.append(el("div", { class: "meta" }, m.edited ? `${t("edited")} ${m.time}` : m.time));
  if (m.inline.length) {
    const keyboard = el("div", { class: "inline" });
    for (const row of m.inline) {
      const line = el("div", { class: "row" });
      for (const button of row) line.append(renderInlineButton(m, button));
      keyboard.append(line);
    }
    bubble.append(keyboard);
  }
  return bubble;
}

function renderInlineButton(m, button) {
  if (button.url) return el("a", { class: "btn", href: button.url, target: "_blank", rel: "noopener noreferrer" }, button.text + " ↗");
  if (button.data === undefined) return el("button", { class: "btn", disabled: "" }, button.text);
  const node = el("button", { class: "btn", type: "button", title: button.data, dataset: { cb: button.data } }, button.text);
  node.addEventListener("click", async () => {
    node.classList.add("pressed");
    try { await post(`/api/chats/${state.current}/press`, { message_id: m.message_id, data: button.data }); }
    finally { setTimeout(() => node.classList.remove("pressed"), 400); }
  });
  return node;
}

function renderMedia(media) {
  if (media.kind === "photo") {
    const image = el("img", { src: media.url, alt: "photo" });
    image.addEventListener("load", keepAtBottom);  // the picture grows the chat after it loads
    return el("a", { href: media.url, target: "_blank", class: "photo" }, image);
  }
  if (media.kind === "document") {
    const kind = (media.name.match(/\.([A-Za-z0-9]{1,4})$/) || [, ""])[1].toUpperCase();
    return el("a", { href: media.url, class: "doc", download: media.name },
      el("span", { class: "doc-icon", "aria-hidden": "true" }, kind || "📄"),
      el("span", { class: "doc-about" }, el("span", { class: "doc-name" }, media.name),
        el("span", { class: "doc-size" }, fileSize(media.size))));
  }
  if (media.kind === "venue" || media.kind === "location") {
    const map = `https://www.openstreetmap.org/?mlat=${media.latitude}&mlon=${media.longitude}#map=17/${media.latitude}/${media.longitude}`;
    return el("div", { class: "venue" }, el("strong", {}, "📍 " + (media.title || `${media.latitude}, ${media.longitude}`)),
      el("div", {}, media.address), el("a", { href: map, target: "_blank", rel: "noopener noreferrer" }, t("open_map") + " ↗"));
  }
  if (media.kind === "sticker") return el("div", { class: "sticker" }, media.emoji);
  if (media.kind === "contact") return el("div", { class: "venue" }, "👤 ", media.name, " · ", media.phone);
  return el("div", {}, media.kind);
}

function fileSize(bytes) {
  const number = (value, digits) => value.toLocaleString(state.lang === "id" ? "id-ID" : "en-GB", { maximumFractionDigits: digits });
  if (bytes < 1024) return `${number(bytes, 0)} B`;
  if (bytes < 1024 * 1024) return `${number(bytes / 1024, 1)} KB`;
  return `${number(bytes / (1024 * 1024), 1)} MB`;
}

function keepAtBottom() {
  const box = $("messages");
  if (box.scrollHeight - box.scrollTop - box.clientHeight < 400) box.scrollTop = box.scrollHeight;
}

function appendMessage(box, m) {
  const last = box.lastElementChild;
  if (!last || last.dataset.day !== m.day[state.lang]) {
    box.append(el("div", { class: "day", dataset: { day: m.day[state.lang] } }, m.day[state.lang]));
  }
  const node = renderMessage(m);
  node.dataset.day = m.day[state.lang];
  box.append(node);
}

function renderChat() {
  const box = $("messages");
  box.replaceChildren();
  for (const m of chat(state.current).values()) appendMessage(box, m);
  box.scrollTop = box.scrollHeight;
  renderKeyboards();
}

// The reply keyboard of the latest bot message that set or removed one, and a forced reply
// to the latest bot message, unless the person has written since.
function renderKeyboards() {
  const list = [...chat(state.current).values()];
  let keyboard = null, force = null;
  for (const m of list) {
    if (m.from === "user") { force = null; if (keyboard && keyboard.one_time) keyboard = null; continue; }
    if (m.keyboard) keyboard = m.keyboard;
    if (m.remove_keyboard) keyboard = null;
    force = m.force_reply ? m : null;
  }
  const box = $("reply-keyboard");
  box.replaceChildren();
  box.hidden = !keyboard;
  for (const row of keyboard ? keyboard.rows : []) {
    const line = el("div", { class: "row" });
    for (const button of row) {
      line.append(el("button", { type: "button", class: "btn", onclick: () => pressKey(button) }, button.text));
    }
    box.append(line);
  }
  state.replyTo = force ? force.message_id : null;
  $("replying").hidden = !force;
  if (force) $("replying-text").textContent = textOf(force).slice(0, 90);
  $("text").placeholder = force ? (force.force_reply.placeholder || t("reply")) : t("write");
}

function textOf(m) {
  const parts = [];
  const walk = (nodes) => { for (const n of nodes || []) typeof n === "string" ? parts.push(n) : walk(n.c); };
  walk(m.nodes);
  return parts.join("");
}

async function pressKey(button) {
  const id = state.current;
  if (button.contact || button.location) return post(`/api/chats/${id}/share`, { contact: button.contact });
  return post(`/api/chats/${id}/messages`, { text: button.text });
}

function roleLabel(role) { return t(role); }

function renderPeople() {
  const nav = $("people");
  nav.replaceChildren();
  for (const person of state.people) {
    const unread = state.unread.get(person.user_id) || 0;
    const item = el("button", {
      type: "button", class: `person ${person.user_id === state.current ? "active" : ""}`,
      dataset: { user: person.user_id, key: person.key }, onclick: () => choose(person.user_id),
    }, el("div", { class: `avatar role-${person.role}` }, person.name[0]),
      el("div", { class: "who" }, el("div", { class: "name" }, person.name), el("div", { class: "role" }, roleLabel(person.role))));
    if (unread) item.append(el("span", { class: "badge" }, unread));
    nav.append(item);
  }
  renderPeopleToggle();
}

// At phone size the identities fold into this one line: who you are, and how many unread.
function renderPeopleToggle() {
  const person = state.people.find((p) => p.user_id === state.current);
  const toggle = $("people-toggle");
  toggle.replaceChildren();
  if (!person) return;
  const unread = [...state.unread.values()].reduce((sum, n) => sum + n, 0);
  toggle.append(el("div", { class: `avatar role-${person.role}` }, person.name[0]),
    el("div", { class: "who" }, el("div", { class: "name" }, person.name), el("div", { class: "role" }, roleLabel(person.role))));
  if (unread) toggle.append(el("span", { class: "badge" }, unread));
  toggle.append(el("span", { class: "fold", "aria-hidden": "true" }, $("sidebar").classList.contains("open") ? "▴" : "▾"));
}

function foldPeople(open) {
  $("sidebar").classList.toggle("open", open);
  $("people-toggle").setAttribute("aria-expanded", String(open));
  renderPeopleToggle();
}

function field(label, value, copy) {
  const row = el("div", { class: "field" }, el("span", { class: "label" }, label), el("code", {}, value));
  if (copy) {
    const button = el("button", { type: "button", class: "mini" }, t("copy"));
    button.addEventListener("click", async () => { await navigator.clipboard.writeText(value); button.textContent = t("copied"); });
    row.append(button);
  }
  return row;
}

function renderCard() {
  const person = state.people.find((p) => p.user_id === state.current);
  const card = $("card");
  card.replaceChildren();
  if (!person) return;
  card.append(el("h3", {}, person.name), el("p", { class: "story" }, person.story[state.lang]));
  if (person.nik) card.append(field("NIK", person.nik, true), field("KK", person.kk, true), field(t("born"), person.born, false));
  if (person.service_point) card.append(field(t("point"), person.service_point, false));
  if (person.area) card.append(field(t("area"), person.area, false));
  card.append(el("p", { class: "hint" }, el("strong", {}, t("try") + ": "), person.hint[state.lang]));
  if (person.nik) {
    card.append(el("button", { type: "button", id: "fill-cek", class: "mini wide", onclick: () => {
      $("text").value = `/cek ${person.nik} ${person.kk}`; $("text").focus();
    } }, t("fill_cek")));
  }
  $("chat-sub").textContent = `${person.name} · ${roleLabel(person.role)}`;
}

function renderClock() {
  if (!state.clock) return;
  $("clock-day").textContent = state.clock.day[state.lang];
  $("clock-time").textContent = state.clock.time;
  if (document.activeElement !== $("jump-to")) $("jump-to").value = state.clock.field;  // not while typing
}

function renderRuns() {
  const body = $("jobs-body");
  body.replaceChildren();
  if (state.lastRuns === null) { body.append(el("p", {}, t("no_jobs"))); return; }
  const planned = state.lastRuns.reduce((sum, run) => sum + run.planned, 0);
  const failed = state.lastRuns.filter((run) => run.error);
  body.append(el("p", { class: "summary" }, state.lastRuns.length ? `${planned} ${t("planned")} · ${state.lastRuns.length} slot${failed.length ? ` · ${failed.length} ${t("failed")}` : ""}` : t("runs_none")));
  const list = el("ul", {});
  for (const run of state.lastRuns.filter((r) => r.planned || r.error)) {
    const when = `${run.day.slice(8)}/${Number(run.day.slice(5, 7))} ${run.at.replace(":", ".")}`;
    const what = `${run.slot.split("@")[0]}: ${run.error ? run.error : run.planned}`;
    list.append(el("li", { class: run.error ? "error" : "" }, el("span", { class: "when" }, when), el("span", {}, what)));
  }
  body.append(list);
  $("jobs").open = true;
}

function applyLanguage() {
  document.documentElement.lang = state.lang;
  for (const node of document.querySelectorAll("[data-t]")) node.textContent = t(node.dataset.t);
  $("lang").textContent = state.lang === "id" ? "EN" : "ID";
  renderPeople(); renderCard(); renderClock(); renderRuns(); if (state.current) renderChat();
}

// --- acting ---

function choose(userId) {
  state.current = userId;
  state.unread.delete(userId);
  history.replaceState(null, "", `#${userId}`);
  closeMenu();
  foldPeople(false);
  renderPeople(); renderCard(); renderChat();
  $("text").focus();
}

async function send(text) {
  const body = { text };
  if (state.replyTo !== null) body.reply_to = state.replyTo;
  await post(`/api/chats/${state.current}/messages`, body);
}

// The menu's commands come from a request; one that answers after the menu was closed (a send,
// a click elsewhere) or asked again is dropped, so a closed menu never reopens by itself.
let menuRequest = 0;

function closeMenu() {
  menuRequest += 1;
  $("menu").hidden = true;
}

async function openMenu() {
  const request = ++menuRequest;
  const commands = await (await fetch(`/api/chats/${state.current}/commands`)).json();
  if (request !== menuRequest) return;
  const prefix = $("text").value.startsWith("/") ? $("text").value.slice(1).toLowerCase() : "";
  const menu = $("menu");
  menu.replaceChildren();
  const shown = commands.filter((c) => c.command.startsWith(prefix));
  if (!shown.length) menu.append(el("div", { class: "empty" }, t("no_commands")));
  for (const command of shown) {
    menu.append(el("button", { type: "button", class: "command", dataset: { command: command.command }, onclick: async () => {
      closeMenu(); $("text").value = ""; await send(`/${command.command}`);
    } }, el("span", { class: "name" }, `/${command.command}`), el("span", { class: "desc" }, command.description)));
  }
  menu.hidden = false;
}

async function jump(body) {
  const buttons = document.querySelectorAll(".clock button");
  buttons.forEach((b) => (b.disabled = true));
  $("jobs-body").replaceChildren(el("p", {}, t("running")));
  try { await post("/api/clock", body); }
  catch { renderRuns(); }
  finally { buttons.forEach((b) => (b.disabled = false)); }
}

let toastTimer = null;
function toast(text) {
  const box = $("toast");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (box.hidden = true), 3500);
}

function showAlert(text) { $("alert-text").textContent = text; $("alert").showModal(); }

async function start() {
  const initial = await (await fetch("/api/state")).json();
  state.session = initial.session;
  state.historyUpTo = initial.seq;
  state.people = initial.identities;
  state.clock = initial.clock;
  $("bot-name").textContent = initial.bot.first_name;
  const wanted = Number(location.hash.slice(1));
  state.current = state.people.some((p) => p.user_id === wanted) ? wanted : state.people[0].user_id;

  $("composer").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("text").value;
    if (!text.trim()) return;
    $("text").value = ""; closeMenu();
    try { await send(text); } catch { $("text").value = text; }
  });
  $("text").addEventListener("input", () => ($("text").value.startsWith("/") ? openMenu() : closeMenu()));
  $("menu-button").addEventListener("click", () => ($("menu").hidden ? openMenu() : closeMenu()));
  document.addEventListener("click", (event) => {
    if (!event.target.closest("#menu, #menu-button, #text")) closeMenu();
  });
  document.addEventListener("keydown", (event) => { if (event.key === "Escape") closeMenu(); });
  $("people-toggle").addEventListener("click", () => foldPeople(!$("sidebar").classList.contains("open")));
  $("attach").addEventListener("click", () => $("file").click());
  $("file").addEventListener("change", async () => {
    const file = $("file").files[0];
    if (!file) return;
    const form = new FormData();
    form.append("file", file);
    form.append("caption", $("text").value);
    $("text").value = ""; $("file").value = "";
    await post(`/api/chats/${state.current}/files`, form, true);
  });
  $("replying-cancel").addEventListener("click", () => { state.replyTo = null; $("replying").hidden = true; });
  $("plus-hour").addEventListener("click", () => jump({ hours: 1 }));
  $("plus-day").addEventListener("click", () => jump({ days: 1 }));
  $("plus-week").addEventListener("click", () => jump({ days: 7 }));
  const jumpTo = () => { if ($("jump-to").value.trim()) jump({ to: $("jump-to").value }); };
  $("jump").addEventListener("click", jumpTo);
  $("jump-to").addEventListener("keydown", (event) => { if (event.key === "Enter") { event.preventDefault(); jumpTo(); } });
  $("lang").addEventListener("click", () => {
    state.lang = state.lang === "id" ? "en" : "id";
    localStorage.setItem("sandbox-lang", state.lang);
    applyLanguage();
  });
  applyLanguage();
  connect();
}

document.addEventListener("DOMContentLoaded", start);
