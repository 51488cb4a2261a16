"use strict";
// Voice polls in the console: the list, the builder (questions, keys and actions, with the branching drawn as an SVG
// graph by drawGraph below) with a TTS preview per question, and the answers per number. Only /api/v2 is used; the
// server checks the whole poll (domain/poll_graph.py), and the graph marks what it would refuse before saving.
// Registers its pages with console.js through window.CONSOLE_PAGES (see loadPages there).
(function () {
  const WORDS = {
    en: {
      navPolls: "Polls", pollsTitle: "Voice polls", newPoll: "New poll", noPolls: "No polls yet.",
      colQuestions: "Questions", colVersion: "Version", colUpdated: "Changed", colId: "Id",
      confirmDeletePoll: "Delete poll “{name}”?", pollDeleted: "Poll deleted.",
      pollTitleNew: "New poll", pollTitle: "Poll “{name}” (#{id})", pollName: "Poll name",
      digitTimeout: "Seconds to wait for a key", questionN: "Question {n}", qId: "Question {n}: id",
      qText: "Question {n}: text to speak", qAudio: "Question {n}: recorded prompt", qLang: "Question {n}: language",
      noAudio: "— none: speak the text —", addQuestion: "Add question", removeQuestion: "Remove question {n}",
      keysOf: "Keys of question {n}", addKey: "Add key to question {n}", removeKey: "Remove key {k} of question {n}",
      kKey: "Question {n}, key {k}: key", kAction: "Question {n}, key {k}: action",
      kValue: "Question {n}, key {k}: answer saved", kText: "Question {n}, key {k}: text to play",
      kAudio: "Question {n}, key {k}: prompt to play", kExtension: "Question {n}, key {k}: extension",
      kNext: "Question {n}, key {k}: next question", endPoll: "— end the poll —",
      key_timeout: "no key (timeout)", key_invalid: "another key",
      act_save_answer: "save answer", act_play: "play", act_transfer: "transfer to an employee",
      act_next_question: "go to a question", act_opt_out: "do not call again",
      previewTts: "Preview speech of question {n}", previewPlayer: "Speech preview of question {n}",
      previewing: "Playing the preview…", previewFailed: "The preview failed: {msg}",
      graphTitle: "Branching", graphLabel: "The poll's branching: questions, and where each key leads",
      graphEnd: "End", graphUnreachable: "never asked", graphTrap: "no way to end",
      savePoll: "Save poll", pollSaved: "Poll saved (version {v}).", answersTitle: "Answers to “{name}”",
      colCampaign: "Campaign", colAnswers: "Answers", noAnswers: "No answers yet.", openResults: "Answers",
      filterCampaign: "Campaign id",
    },
    ru: {
      navPolls: "Опросы", pollsTitle: "Голосовые опросы", newPoll: "Новый опрос", noPolls: "Опросов пока нет.",
      colQuestions: "Вопросов", colVersion: "Версия", colUpdated: "Изменён", colId: "Код",
      confirmDeletePoll: "Удалить опрос «{name}»?", pollDeleted: "Опрос удалён.",
      pollTitleNew: "Новый опрос", pollTitle: "Опрос «{name}» (№{id})", pollName: "Название опроса",
      digitTimeout: "Сколько секунд ждать нажатия", questionN: "Вопрос {n}", qId: "Вопрос {n}: код",
      qText: "Вопрос {n}: текст для синтеза речи", qAudio: "Вопрос {n}: запись", qLang: "Вопрос {n}: язык",
      noAudio: "— нет: читать текст —", addQuestion: "Добавить вопрос", removeQuestion: "Удалить вопрос {n}",
      keysOf: "Клавиши вопроса {n}", addKey: "Добавить клавишу к вопросу {n}",
      removeKey: "Удалить клавишу {k} вопроса {n}",
      kKey: "Вопрос {n}, клавиша {k}: клавиша", kAction: "Вопрос {n}, клавиша {k}: действие",
      kValue: "Вопрос {n}, клавиша {k}: сохраняемый ответ", kText: "Вопрос {n}, клавиша {k}: текст",
      kAudio: "Вопрос {n}, клавиша {k}: запись", kExtension: "Вопрос {n}, клавиша {k}: внутренний номер",
      kNext: "Вопрос {n}, клавиша {k}: следующий вопрос", endPoll: "— закончить опрос —",
      key_timeout: "нет нажатия (тайм-аут)", key_invalid: "другая клавиша",
      act_save_answer: "сохранить ответ", act_play: "проиграть", act_transfer: "соединить с сотрудником",
      act_next_question: "перейти к вопросу", act_opt_out: "больше не звонить",
      previewTts: "Прослушать вопрос {n}", previewPlayer: "Прослушивание вопроса {n}",
      previewing: "Воспроизводится…", previewFailed: "Не удалось синтезировать: {msg}",
      graphTitle: "Ветвление", graphLabel: "Ветвление опроса: вопросы и куда ведёт каждая клавиша",
      graphEnd: "Конец", graphUnreachable: "недостижим", graphTrap: "нет выхода",
      savePoll: "Сохранить опрос", pollSaved: "Опрос сохранён (версия {v}).", answersTitle: "Ответы на «{name}»",
      colCampaign: "Кампания", colAnswers: "Ответы", noAnswers: "Ответов пока нет.", openResults: "Ответы",
      filterCampaign: "Код кампании",
    },
  };
  Object.assign(window.CONSOLE_I18N.en, WORDS.en);
  Object.assign(window.CONSOLE_I18N.ru, WORDS.ru);

  const KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "*", "#", "timeout", "invalid"];
  const ACTIONS = ["save_answer", "play", "transfer", "next_question", "opt_out"];
  const LANGS = [["ru-RU", "Русский"], ["en-US", "English"]];
  const ENDS = new Set(["transfer", "opt_out"]);
  const SVG = "http://www.w3.org/2000/svg";

  // ---- the graph: pure functions over the builder's state, so what is drawn is what would be saved

  function edgesOf(poll) {
    const ids = new Set(poll.questions.map((q) => q.id));
    const edges = [];
    poll.questions.forEach((q, from) => q.keys.forEach((k) => {
      const to = ENDS.has(k.action) || !k.next ? null : k.next;
      edges.push({ from, to: to === null ? null : poll.questions.findIndex((x) => x.id === to), key: k.key,
        action: k.action, missing: to !== null && !ids.has(to) });
    }));
    return edges;
  }

  function reachable(count, edges, starts, reverse) {
    const seen = new Set(starts);
    const todo = [...starts];
    while (todo.length) {
      const at = todo.pop();
      for (const e of edges) {
        const [a, b] = reverse ? [e.to, e.from] : [e.from, e.to];
        if (a === at && b !== null && b >= 0 && !seen.has(b)) { seen.add(b); todo.push(b); }
      }
    }
    return seen;
  }

  // Columns by distance from the first question (breadth first), questions never reached in the last column.
  function layout(poll, edges) {
    const depth = new Map([[0, 0]]);
    const queue = [0];
    while (queue.length) {
      const at = queue.shift();
      for (const e of edges) {
        if (e.from === at && e.to !== null && e.to >= 0 && !depth.has(e.to)) {
          depth.set(e.to, depth.get(at) + 1);
          queue.push(e.to);
        }
      }
    }
    const maxDepth = Math.max(0, ...depth.values());
    const columns = [];
    poll.questions.forEach((q, i) => {
      const d = depth.has(i) ? depth.get(i) : maxDepth + 1;
      (columns[d] = columns[d] || []).push(i);
    });
    const endColumn = columns.length;
    const pos = new Map();
    columns.forEach((col, d) => (col || []).forEach((i, row) => pos.set(i, { x: 20 + d * 190, y: 60 + row * 90 })));
    const rows = Math.max(1, ...columns.map((c) => (c ? c.length : 0)));
    pos.set("end", { x: 20 + endColumn * 190, y: 60 + ((rows - 1) * 90) / 2 });
    return { pos, width: 20 + endColumn * 190 + 110, height: 90 + rows * 90 };
  }

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  }

  function drawGraph(poll, t) {
    const W = 140, H = 46;
    const edges = edgesOf(poll);
    const reached = poll.questions.length ? reachable(poll.questions.length, edges, [0], false) : new Set();
    const ending = poll.questions.map((q, i) => i).filter((i) => edges.some((e) => e.from === i && e.to === null));
    const canEnd = reachable(poll.questions.length, edges, ending, true);
    const { pos, width, height } = layout(poll, edges);  // (room above the first row for arched edges)
    const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", class: "poll-graph",
      "aria-labelledby": "graph-title graph-desc" });
    const words = edges.map((e) => `${poll.questions[e.from].id} —${e.key}→ ` +
      (e.to === null ? t("graphEnd") : e.missing ? "?" : poll.questions[e.to].id));
    root.append(svg("title", { id: "graph-title" }, t("graphLabel")), svg("desc", { id: "graph-desc" }, words.join("; ")));
    root.append(svg("defs", {}, svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7,
      markerHeight: 7, orient: "auto-start-reverse" }, svg("path", { d: "M0,0 L10,5 L0,10 z" }))));
    const drawn = new Map(); // parallel edges between the same nodes are spread apart
    for (const e of edges) {
      if (e.missing) continue;
      const a = pos.get(e.from), b = pos.get(e.to === null ? "end" : e.to);
      const n = drawn.get(`${e.from}-${e.to}`) || 0;
      drawn.set(`${e.from}-${e.to}`, n + 1);
      let d, lx, ly;
      if (e.to === e.from) { // a loop back onto the same question
        const x = a.x + W / 2, y = a.y;
        d = `M${x - 20},${y} C${x - 40},${y - 45 - n * 12} ${x + 40},${y - 45 - n * 12} ${x + 20},${y}`;
        lx = x; ly = y - 38 - n * 12;
      } else if (b.x > a.x + 190) { // forward over a column: arched above the boxes between
        const x1 = a.x + W / 2 + n * 10, y1 = a.y, x2 = b.x + 20 + n * 10, y2 = b.y;
        const high = Math.min(y1, y2) - 18 - n * 12;
        d = `M${x1},${y1} C${x1},${high} ${x2},${high} ${x2},${y2}`;
        lx = (x1 + x2) / 2; ly = high + 6;
      } else if (b.x > a.x) { // forward to the next column: left to right
        const x1 = a.x + W, y1 = a.y + 10 + n * 9, x2 = b.x, y2 = b.y + H / 2;
        d = `M${x1},${y1} C${x1 + 40},${y1} ${x2 - 40},${y2} ${x2},${y2}`;
        lx = x1 + 12; ly = y1 - 2;
      } else { // back to an earlier (or same-column) question: around below
        const x1 = a.x + W / 2 + n * 8, y1 = a.y + H, x2 = b.x + W / 2, y2 = b.y + H;
        const low = Math.max(y1, y2) + 34 + n * 10;
        d = `M${x1},${y1} C${x1},${low} ${x2},${low} ${x2},${y2}`;
        lx = (x1 + x2) / 2; ly = low - 4;
      }
      const label = e.key + (e.action === "transfer" ? " ☎" : e.action === "opt_out" ? " ⛔" : "");
      root.append(svg("g", { class: "edge edge-" + e.action, "data-from": poll.questions[e.from].id,
        "data-to": e.to === null ? "" : poll.questions[e.to].id, "data-key": e.key },
      svg("path", { d, fill: "none", "marker-end": "url(#arrow)" }),
      svg("text", { x: lx, y: ly, "text-anchor": "middle" }, label)));
    }
    poll.questions.forEach((q, i) => {
      const p = pos.get(i);
      const trouble = !reached.has(i) ? t("graphUnreachable") : !canEnd.has(i) ? t("graphTrap") : "";
      const text = (q.text || q.audio || "").slice(0, 20) + ((q.text || q.audio || "").length > 20 ? "…" : "");
      root.append(svg("g", { class: "node" + (trouble ? " bad" : ""), "data-id": q.id },
        svg("rect", { x: p.x, y: p.y, width: W, height: H, rx: 8 }),
        svg("text", { x: p.x + 8, y: p.y + 18, class: "qid" }, q.id || "?"),
        svg("text", { x: p.x + 8, y: p.y + 36 }, trouble || text)));
    });
    const end = pos.get("end");
    root.append(svg("g", { class: "node end" }, svg("rect", { x: end.x, y: end.y, width: 90, height: H, rx: 23 }),
      svg("text", { x: end.x + 45, y: end.y + 28, "text-anchor": "middle" }, t("graphEnd"))));
    return root;
  }

  // ---- pages

  window.CONSOLE_PAGES = window.CONSOLE_PAGES || [];
  window.CONSOLE_PAGES.push(function (kit) {
    const { h, t, api, page, field, table, announce, showError, notFoundPage } = kit;

    async function listPage() {
      const errors = h("div");
      const body = h("tbody");
      page(t("pollsTitle"),
        h("p", { class: "actions" }, h("a", { class: "button primary", href: "#/polls/new" }, t("newPoll"))),
        errors, table(t("pollsTitle"), [t("colId"), t("colName"), t("colQuestions"), t("colVersion"),
          t("colUpdated"), t("colActions")], body));
      let found;
      try { found = await api.get("/polls?limit=1000"); } catch (e) { return showError(errors, e); }
      if (!found.items.length) body.append(h("tr", {}, h("td", { colspan: 6 }, t("noPolls"))));
      for (const p of found.items) {
        const remove = h("button", { type: "button", class: "danger" }, t("del"));
        remove.addEventListener("click", async () => {
          if (!confirm(t("confirmDeletePoll", { name: p.name || "#" + p.id }))) return;
          try { await api.del("/polls/" + p.id); } catch (e) { return showError(errors, e); }
          announce(t("pollDeleted"));
          listPage();
        });
        body.append(h("tr", {}, h("td", { class: "num" }, p.id),
          h("th", { scope: "row" }, h("a", { href: "#/polls/" + p.id }, p.name || "#" + p.id)),
          h("td", { class: "num" }, p.question_count), h("td", { class: "num" }, p.version),
          h("td", {}, kit.fmtTime(p.updated_at)),
          h("td", { class: "actions" }, h("a", { class: "button", href: "#/polls/" + p.id }, t("edit")),
            h("a", { class: "button", href: "#/polls/" + p.id + "/results" }, t("openResults")), remove)));
      }
    }

    function blankKey(key) { return { key, action: "save_answer", value: "", text: "", audio: "", extension: "", next: "" }; }

    function fromServer(p) {
      return { name: p.name, digit_timeout_s: p.digit_timeout_s, questions: p.questions.map((q) => ({
        id: q.id, text: q.text || "", audio: q.audio || "", lang: q.lang,
        keys: q.keys.map((k) => ({ ...blankKey(k.key), ...Object.fromEntries(
          Object.entries(k).map(([name, v]) => [name, v === null ? "" : String(v)])) })),
      })) };
    }

    function toServer(poll) {
      return { name: poll.name, digit_timeout_s: Number(poll.digit_timeout_s) || 5, questions: poll.questions.map((q) => {
        const out = { id: q.id, lang: q.lang, keys: q.keys.map((k) => {
          const key = { key: k.key, action: k.action };
          if (k.action === "save_answer" || (k.action === "opt_out" && k.value)) key.value = k.value;
          if (k.action === "play") { if (k.audio) key.audio = k.audio; else key.text = k.text; }
          if (k.action === "transfer") key.extension = k.extension;
          if (!ENDS.has(k.action) && k.next) key.next = k.next;
          return key;
        }) };
        if (q.text) out.text = q.text;
        if (q.audio) out.audio = q.audio;
        return out;
      }) };
    }

    // "questions[0].keys[1].next" → the input showing it ("q0-k1-next")
    function inputFor(fieldName) {
      const m = /^questions\[(\d+)\](?:\.keys\[(\d+)\])?(?:\.(\w+))?/.exec(fieldName);
      if (!m) return fieldName === "name" ? "poll-name" : null;
      return "q" + m[1] + (m[2] !== undefined ? "-k" + m[2] : "") + (m[3] ? "-" + m[3] : "");
    }

    async function builder(id) {
      let poll, saved = null, library = [];
      try {
        library = (await api.get("/audio")).items.map((a) => a.name);
        if (id) { saved = await api.get("/polls/" + id); poll = fromServer(saved); }
      } catch (e) { return notFoundPage(e); }
      if (!poll) {
        poll = { name: "", digit_timeout_s: 5, questions: [{ id: "q1", text: "", audio: "", lang: kit.lang() === "ru" ? "ru-RU" : "en-US", keys: [blankKey("1")] }] };
      }
      const errors = h("div", { id: "poll-errors" });
      const graphBox = h("div", { class: "graph-box" });
      const form = h("form", { novalidate: true, class: "poll-builder" });
      const redraw = () => graphBox.replaceChildren(drawGraph(poll, t));

      function select(options, value, onChange) {
        const s = h("select", {}, options.map(([v, label]) => h("option", { value: v, selected: v === value }, label)));
        s.addEventListener("change", () => onChange(s.value));
        return s;
      }
      function input(value, onInput, attrs) {
        const i = h("input", { type: "text", value, ...(attrs || {}) });
        i.addEventListener("input", () => { onInput(i.value); redraw(); });
        return i;
      }
      function rebuild(focusId) {
        renderForm();
        redraw();
        const target = focusId && document.getElementById(focusId);
        if (target) target.focus();
      }

      function keyRow(q, qi, k, ki) {
        const n = qi + 1, kn = ki + 1, base = "q" + qi + "-k" + ki;
        const words = { n, k: kn };
        const cells = [
          field(base + "-key", t("kKey", words), select(KEYS.map((x) => [x, t("key_" + x) === "key_" + x ? x : t("key_" + x)]), k.key, (v) => { k.key = v; redraw(); })),
          field(base + "-action", t("kAction", words), select(ACTIONS.map((a) => [a, t("act_" + a)]), k.action, (v) => { k.action = v; rebuild(base + "-action"); })),
        ];
        if (k.action === "save_answer" || k.action === "opt_out") cells.push(field(base + "-value", t("kValue", words), input(k.value, (v) => { k.value = v; })));
        if (k.action === "play") {
          cells.push(field(base + "-text", t("kText", words), input(k.text, (v) => { k.text = v; })));
          cells.push(field(base + "-audio", t("kAudio", words), select([["", t("noAudio")], ...library.map((a) => [a, a])], k.audio, (v) => { k.audio = v; })));
        }
        if (k.action === "transfer") cells.push(field(base + "-extension", t("kExtension", words), input(k.extension, (v) => { k.extension = v; }, { inputmode: "numeric" })));
        if (!ENDS.has(k.action)) {
          const targets = [["", t("endPoll")], ...poll.questions.map((x) => [x.id, x.id])];
          cells.push(field(base + "-next", t("kNext", words), select(targets, k.next, (v) => { k.next = v; redraw(); })));
        }
        const remove = h("button", { type: "button", class: "danger", "aria-label": t("removeKey", words) }, "✕");
        remove.addEventListener("click", () => { q.keys.splice(ki, 1); rebuild("q" + qi + "-add-key"); });
        return h("div", { class: "key-row", id: base }, cells.map((pair) => h("div", { class: "cell" }, pair)), remove);
      }

      function questionBox(q, qi) {
        const n = qi + 1, base = "q" + qi;
        const idInput = input(q.id, (v) => { q.id = v; }, { maxlength: 64 });
        idInput.addEventListener("change", () => rebuild(base + "-id")); // the next-question lists show the new id
        const player = h("audio", { controls: true, id: base + "-player", preload: "none", "aria-label": t("previewPlayer", { n }) });
        const status = h("span", { role: "status", class: "hint", id: base + "-preview-status" });
        const preview = h("button", { type: "button", id: base + "-preview" }, t("previewTts", { n }));
        preview.addEventListener("click", async () => {
          const query = new URLSearchParams({ text: q.text, lang: q.lang });
          const url = kit.API + "/tts/preview?" + query.toString();
          status.textContent = t("previewing");
          try {
            const probe = await fetch(url, { credentials: "same-origin" }); // the problem+json when refused
            if (!probe.ok) { const body = await probe.json(); throw new Error(body.detail || probe.status); }
            player.src = url; // cached by the browser (ETag) and the server (content hash)
            await player.play().catch(() => undefined); // autoplay rules may wait for the user's own click
          } catch (e) { status.textContent = t("previewFailed", { msg: e.message }); }
        });
        const addKey = h("button", { type: "button", id: base + "-add-key" }, t("addKey", { n }));
        addKey.addEventListener("click", () => {
          const used = new Set(q.keys.map((k) => k.key));
          q.keys.push(blankKey(KEYS.find((k) => !used.has(k)) || "1"));
          rebuild(base + "-k" + (q.keys.length - 1) + "-key");
        });
        const remove = h("button", { type: "button", class: "danger", id: base + "-remove" }, t("removeQuestion", { n }));
        remove.disabled = poll.questions.length === 1;
        remove.addEventListener("click", () => { poll.questions.splice(qi, 1); rebuild("add-question"); });
        return h("fieldset", { class: "question", id: base },
          h("legend", {}, t("questionN", { n })),
          h("div", { class: "form-grid" },
            field(base + "-id", t("qId", { n }), idInput),
            field(base + "-text", t("qText", { n }), (() => {
              const area = h("textarea", { rows: 2, cols: 50 }, q.text);
              area.addEventListener("input", () => { q.text = area.value; redraw(); });
              return area;
            })()),
            field(base + "-audio", t("qAudio", { n }), select([["", t("noAudio")], ...library.map((a) => [a, a])], q.audio, (v) => { q.audio = v; redraw(); })),
            field(base + "-lang", t("qLang", { n }), select(LANGS, q.lang, (v) => { q.lang = v; }))),
          h("p", { class: "actions" }, preview, player, status),
          h("div", { role: "group", "aria-label": t("keysOf", { n }), class: "keys", id: base + "-keys" }, q.keys.map((k, ki) => keyRow(q, qi, k, ki))),
          h("p", { class: "actions" }, addKey, remove));
      }

      function renderForm() {
        const addQuestion = h("button", { type: "button", id: "add-question" }, t("addQuestion"));
        addQuestion.addEventListener("click", () => {
          const ids = new Set(poll.questions.map((q) => q.id));
          let n = poll.questions.length + 1;
          while (ids.has("q" + n)) n += 1;
          poll.questions.push({ id: "q" + n, text: "", audio: "", lang: poll.questions[0] ? poll.questions[0].lang : "ru-RU", keys: [blankKey("1")] });
          rebuild("q" + (poll.questions.length - 1) + "-id");
        });
        form.replaceChildren(
          h("div", { class: "form-grid" },
            field("poll-name", t("pollName"), input(poll.name, (v) => { poll.name = v; }, { maxlength: 255 })),
            field("poll-timeout", t("digitTimeout"), input(String(poll.digit_timeout_s), (v) => { poll.digit_timeout_s = v; }, { inputmode: "decimal" }))),
          ...poll.questions.map(questionBox),
          h("p", { class: "actions" }, addQuestion),
          h("p", {}, h("button", { type: "submit", class: "primary", id: "save-poll" }, t("savePoll"))));
      }

      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
        try {
          saved = id ? await api.put("/polls/" + id, toServer(poll)) : await api.post("/polls", toServer(poll));
        } catch (e) {
          showError(errors, e);
          for (const problem of (e.body && e.body.errors) || []) {
            const el = document.getElementById(inputFor(problem.field) || "");
            if (el) el.setAttribute("aria-invalid", "true");
          }
          errors.focus();
          return;
        }
        errors.replaceChildren(h("p", { class: "ok", role: "status" }, t("pollSaved", { v: saved.version })));
        announce(t("pollSaved", { v: saved.version }));
        if (!id) location.hash = "#/polls/" + saved.id;
      });

      errors.setAttribute("tabindex", "-1");
      renderForm();
      const links = h("p", { class: "actions" });
      if (saved) links.append(h("a", { class: "button", href: "#/polls/" + saved.id + "/results" }, t("openResults")));
      page(saved ? t("pollTitle", { name: saved.name || "#" + saved.id, id: saved.id }) : t("pollTitleNew"), links,
        errors, h("div", { class: "builder" }, form,
          h("section", { "aria-labelledby": "graph-h", class: "graph" }, h("h2", { id: "graph-h" }, t("graphTitle")), graphBox)));
      redraw();
    }

    async function resultsPage(id) {
      let poll;
      try { poll = await api.get("/polls/" + id); } catch (e) { return notFoundPage(e); }
      const errors = h("div");
      const body = h("tbody");
      const more = h("button", { type: "button", hidden: true }, t("more"));
      const campaignInput = h("input", { type: "text", inputmode: "numeric" });
      const phoneInput = h("input", { type: "text" });
      let cursor = null;
      async function load(append) {
        const q = new URLSearchParams({ limit: "200" });
        if (campaignInput.value.trim()) q.set("campaign_id", campaignInput.value.trim());
        if (phoneInput.value.trim()) q.set("phone", phoneInput.value.trim());
        if (append && cursor) q.set("cursor", cursor);
        let found;
        try { found = await api.get("/polls/" + id + "/results?" + q.toString()); } catch (e) { return showError(errors, e); }
        errors.replaceChildren();
        if (!append) body.replaceChildren();
        for (const n of found.items) {
          body.append(h("tr", {}, h("td", {}, h("a", { href: "#/campaigns/" + n.campaign_id }, n.campaign_id)),
            h("th", { scope: "row" }, n.phone),
            h("td", {}, h("ul", { class: "answers" }, n.answers.map((a) =>
              h("li", {}, a.question_id + ": " + (a.value || "—") + " (" + (a.key || "") + ")"))))));
        }
        if (!body.children.length) body.append(h("tr", {}, h("td", { colspan: 3 }, t("noAnswers"))));
        cursor = found.next_cursor;
        more.hidden = !cursor;
      }
      more.addEventListener("click", () => load(true));
      const filters = h("form", { class: "filters" },
        h("div", {}, ...field("answers-campaign", t("filterCampaign"), campaignInput)),
        h("div", {}, ...field("answers-phone", t("fPhone"), phoneInput)),
        h("button", { type: "submit" }, t("apply")),
        h("button", { type: "button", onclick: () => load(false) }, t("refresh")));
      filters.addEventListener("submit", (e) => { e.preventDefault(); load(false); });
      page(t("answersTitle", { name: poll.name || "#" + id }),
        h("p", { class: "actions" }, h("a", { class: "button", href: "#/polls/" + id }, t("edit"))),
        filters, errors, table(t("answersTitle", { name: poll.name || "#" + id }),
          [t("colCampaign"), t("colPhone"), t("colAnswers")], body), more);
      await load(false);
    }

    return {
      nav: [{ href: "#/polls", label: "navPolls" }],
      routes: [
        [/^#\/polls$/, listPage],
        [/^#\/polls\/new$/, () => builder(null)],
        [/^#\/polls\/(\d+)$/, (m) => builder(m[1])],
        [/^#\/polls\/(\d+)\/results$/, (m) => resultsPage(m[1])],
      ],
    };
  });

  window.POLL_GRAPH = { edgesOf, drawGraph }; // for the browser tests
})();
