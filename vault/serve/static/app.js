// talkvault serve: the page's only script. It asks the server for fragments with POST (the
// query and every id go in the body, never in the address), keeps where you are in memory only,
// and puts the server's escaped HTML into the page.
(function () {
  "use strict";
  var csrf = document.body.dataset.csrf;
  var view = document.getElementById("view");
  var statusLine = document.getElementById("status");
  var q = document.getElementById("q");
  var sort = document.getElementById("sort");
  var state = { view: "chats", chat: null, mediaChat: null, mediaKind: "", insightsChat: null, query: "" };

  function say(text, isError) {
    statusLine.textContent = text || "";
    statusLine.className = isError ? "error" : "";
  }

  function post(path, body) {
    return fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body || {}),
      credentials: "same-origin",
      cache: "no-store",
      referrerPolicy: "no-referrer"
    }).then(function (r) {
      if (r.status === 423) { location.reload(); throw new Error("locked"); }
      if (!r.ok) { return r.text().then(function (t) { throw new Error(t || r.statusText); }); }
      return r;
    });
  }
  function fragment(path, body) { return post(path, body).then(function (r) { return r.text(); }); }
  function failed(e) { if (e.message !== "locked") { say(e.message, true); } }

  function picked() {
    return Array.prototype.map.call(view.querySelectorAll(".pick:checked"), function (c) { return c.dataset.pick; });
  }
  function updatePicked() {
    var n = picked().length, button = document.getElementById("delete-picked");
    button.hidden = n === 0;
    button.textContent = "Delete " + n + " selected…";
  }

  function show(markup, name) {
    state.view = name;
    view.innerHTML = markup;
    document.querySelectorAll("nav [data-view]").forEach(function (b) {
      if (b.dataset.view === name) { b.setAttribute("aria-current", "page"); } else { b.removeAttribute("aria-current"); }
    });
    window.scrollTo(0, 0);
    updatePicked();
  }

  // -- views ---------------------------------------------------------------------------------
  function chats() {
    say("");
    return fragment("/api/chats").then(function (m) { show(m, "chats"); }).catch(failed);
  }

  function search(offset) {
    var text = q.value.trim();
    if (!text) { q.focus(); return Promise.resolve(); }
    state.query = text;
    say("Searching…");
    return fragment("/api/search", { q: text, sort: sort.value, offset: offset || 0 }).then(function (m) {
      say("");
      if (offset) {
        var list = view.querySelector("ol.hits");
        var box = document.createElement("div");
        box.innerHTML = m;
        box.querySelectorAll("li.hit").forEach(function (li) { list.appendChild(li); });
        var old = view.querySelector("[data-more-hits]");
        if (old) { old.remove(); }
        var more = box.querySelector("[data-more-hits]");
        if (more) { list.after(more); }
      } else {
        show(m, "search");
      }
    }).catch(failed);
  }

  function openChat(chat, opts) {
    opts = opts || {};
    state.chat = chat;
    say("");
    var body = { chat: chat };
    if (opts.around) { body.around = opts.around; }
    if (opts.date) { body.date = opts.date; }
    if (opts.replyOf) { body.reply_of = opts.replyOf; }
    return fragment("/api/chat", body).then(function (m) {
      show(m, "chat");
      settle(view.querySelector(".page"));
      var target = view.querySelector(".page").dataset.target;
      if (target) { focusMessage(target); } else { window.scrollTo(0, document.body.scrollHeight); }
    }).catch(failed);
  }

  function focusMessage(id) {
    var el = document.getElementById("m" + id);
    if (!el) { return; }
    view.querySelectorAll(".target").forEach(function (t) { t.classList.remove("target"); });
    el.classList.add("target");
    el.scrollIntoView({ block: "center" });
    el.focus({ preventScroll: true });
  }

  // After a page is put in: drop a day separator that repeats the day before it, and show the
  // older/newer buttons as the server says.
  function settle(page) {
    var seen = null;
    view.querySelectorAll("#log .day").forEach(function (d) {
      if (d.dataset.day === seen) { d.remove(); } else { seen = d.dataset.day; }
    });
    var pages = view.querySelectorAll("#log .page");
    var older = view.querySelector("button[data-older]"), newer = view.querySelector("button[data-newer]");
    if (older) { older.hidden = pages[0].dataset.older !== "1"; }
    if (newer) { newer.hidden = pages[pages.length - 1].dataset.newer !== "1"; }
    return page;
  }

  function page(direction) {
    var log = document.getElementById("log");
    var ids = log.querySelectorAll("[data-mid]");
    if (!ids.length) { return; }
    var body = { chat: state.chat };
    if (direction === "older") { body.before = ids[0].dataset.mid; } else { body.after = ids[ids.length - 1].dataset.mid; }
    fragment("/api/messages", body).then(function (m) {
      var before = document.documentElement.scrollHeight;
      log.insertAdjacentHTML(direction === "older" ? "afterbegin" : "beforeend", m);
      if (direction === "older") { window.scrollBy(0, document.documentElement.scrollHeight - before); }
      settle();
    }).catch(failed);
  }

  function gallery(chat, kind, before) {
    state.mediaChat = chat || null;
    state.mediaKind = kind || "";
    var body = { chat: state.mediaChat, kind: state.mediaKind || null };
    if (before) { body.before = before; }
    return fragment("/api/media", body).then(function (m) {
      if (before) {
        var grid = view.querySelector(".grid");
        var old = grid.querySelector("[data-more-media]");
        if (old) { old.remove(); }
        grid.insertAdjacentHTML("beforeend", m);
      } else {
        show(m, "media");
      }
    }).catch(failed);
  }

  function people() { return fragment("/api/people").then(function (m) { show(m, "people"); }).catch(failed); }

  function insights(chat, year) {
    state.insightsChat = chat || null;
    return fragment("/api/insights", { chat: state.insightsChat, year: year || null })
      .then(function (m) { show(m, "insights"); }).catch(failed);
  }

  // -- actions -------------------------------------------------------------------------------
  function remove(what) {
    post("/api/delete", what).then(function (r) { return r.json(); }).then(function (doc) {
      if (!window.confirm(doc.question)) { say("Nothing was deleted."); return null; }
      what.confirm = true;
      return post("/api/delete", what).then(function (r) { return r.json(); });
    }).then(function (done) {
      if (!done) { return; }
      var note = "Deleted " + done.deleted + (done.deleted === 1 ? " message" : " messages") +
        (done.attachments ? " and " + done.attachments + " attachment(s)" : "") + ", for good.";
      if (what.chat) { chats().then(function () { say(note); }); return; }
      (what.messages || [what.message]).forEach(function (id) {
        var el = document.getElementById("m" + id);
        if (el) { el.remove(); }
        var hit = view.querySelector('[data-message-id="' + id + '"]');
        if (hit) { hit.remove(); }
      });
      updatePicked();
      say(note);
    }).catch(failed);
  }

  function filterList(input, selector) {
    var term = input.value.normalize("NFKC").toLowerCase().trim();
    view.querySelectorAll(selector).forEach(function (li) {
      var hay = (li.dataset.filter || "").normalize("NFKC").toLowerCase();
      li.hidden = term !== "" && hay.indexOf(term) === -1;
    });
  }

  // -- wiring ----------------------------------------------------------------------------------
  document.addEventListener("click", function (e) {
    var t = e.target.closest("button");
    if (!t) { return; }
    var d = t.dataset;
    if (d.view === "chats") { chats(); }
    else if (d.view === "media") { gallery(d.chat, ""); }
    else if (d.view === "people") { people(); }
    else if (d.view === "insights") { insights(d.chat); }
    else if (d.openChat) { openChat(d.openChat, { around: d.around }); }
    else if (d.jump) {
      if (document.getElementById("m" + d.jump)) { focusMessage(d.jump); } else { openChat(state.chat, { around: d.jump }); }
    }
    else if (d.findReply) { openChat(state.chat, { replyOf: d.findReply }); }
    else if ("older" in d) { page("older"); }
    else if ("newer" in d) { page("newer"); }
    else if ("jumpDate" in d) {
      var day = document.getElementById("jump-date").value;
      if (day) { openChat(state.chat, { date: day }); }
    }
    else if (d.moreHits) { search(parseInt(d.moreHits, 10)); }
    else if ("mediaKind" in d) { gallery(view.querySelector(".gallery").dataset.chat, d.mediaKind); }
    else if (d.moreMedia) { gallery(state.mediaChat, state.mediaKind, d.moreMedia); }
    else if (d.year) { insights(view.querySelector(".insights").dataset.chat, d.year); }
    else if (d.deleteMessage) { remove({ message: d.deleteMessage }); }
    else if (d.deleteChat) { remove({ chat: d.deleteChat }); }
    else if (t.id === "delete-picked") { remove({ messages: picked() }); }
    else if (t.id === "go") { search(0); }
    else if (t.id === "lock") { post("/api/lock").then(function () { location.reload(); }).catch(failed); }
  });

  view.addEventListener("change", function (e) {
    if (e.target.classList.contains("pick")) { updatePicked(); }
  });

  view.addEventListener("input", function (e) {
    if (e.target.id === "chat-filter") { filterList(e.target, ".chatlist li"); }
    if (e.target.id === "people-filter") { filterList(e.target, ".personlist li"); }
  });

  q.addEventListener("keydown", function (e) {
    if (e.key === "Enter") { e.preventDefault(); search(0); }
    if (e.key === "Escape") { q.value = ""; }
  });

  document.addEventListener("keydown", function (e) {
    var typing = /^(INPUT|SELECT|TEXTAREA)$/.test(document.activeElement.tagName);
    if (e.key === "/" && !typing) { e.preventDefault(); q.focus(); }
  });

  chats();
})();
