"use strict";
// The web console: a small hash-routed page over the v2 API (/api/v2) and the console's sign-in (/console/login).
// Nothing here has a private route: every number shown comes from a documented v2 answer. Text is always set with
// textContent (never parsed as HTML), state-changing requests carry the CSRF token (api/console/csrf.py).
(function () {
  const I18N = window.CONSOLE_I18N;
  const API = "/api/v2";
  const RETRY_CLASSES = ["customer_busy", "customer_no_answer", "customer_congestion", "agent_busy",
    "originate_rejected"];
  const STATES = ["CreateTask", "CreateCallFile", "startDial", "endDial", "afterDialOut", "allUserBusy", "endCall",
    "failedOriginate", "doNotCall"];  // MikoPBX's row states (domain/mikopbx_results.py) and ours (doNotCall)
  const RESULTS = ["SUCCESS_CLIENT_H", "SUCCESS_USER_H", "SUCCESS_POLLING", "FAIL", "FAIL_CLIENT_H_BEFORE_ANSWER",
    "FAIL_USER_NO_ANSWER", "FAIL_USER_BUSY", "FAIL_ROUTE", "FAIL_PROVIDER", "FAIL_POLLING"];
  const IMPORT_CHUNK = 2000;
  let lang = pickLanguage();
  let me = null;
  let timers = [];
  let pendingCsv = null; // a file chosen on the create form, imported on the campaign's page

  // ---- words

  function pickLanguage() {
    const saved = localStorage.getItem("autodialer.lang");
    if (saved === "en" || saved === "ru") return saved;
    const langs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language];
    for (const l of langs) {
      const code = String(l || "").slice(0, 2).toLowerCase();
      if (code === "ru" || code === "en") return code;
    }
    return "en";
  }

  function t(key, vars) {
    let text = (I18N[lang] && I18N[lang][key]) || I18N.en[key] || key;
    for (const [k, v] of Object.entries(vars || {})) text = text.split("{" + k + "}").join(String(v));
    return text;
  }

  function reason(message) {
    if (lang !== "ru") return message;
    for (const [pattern, words] of I18N.ruReasons) if (pattern.test(message)) return message.replace(pattern, words);
    return message;
  }

  function fmtTime(iso) {
    if (!iso) return "—";
    return new Date(iso).toLocaleString(lang === "ru" ? "ru-RU" : "en-GB");
  }

  function fmtRate(rate) {
    return rate === null || rate === undefined ? "—" : (rate * 100).toFixed(1) + " %";
  }

  // ---- DOM

  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function field(id, label, input, hint) {
    input.id = id;
    const hintNode = hint ? h("div", { class: "hint", id: id + "-hint" }, hint) : null;
    if (hintNode) input.setAttribute("aria-describedby", id + "-hint");
    return [h("label", { for: id }, label), h("div", {}, input, hintNode)];
  }

  function table(caption, headers, rows, numeric) {
    return h("table", {},
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, headers.map((x, i) => h("th", { scope: "col", class: numeric && numeric[i] ? "num" : null }, x)))),
      h("tbody", {}, rows));
  }

  function announce(text) {
    const region = document.getElementById("announce");
    region.textContent = "";
    setTimeout(() => { region.textContent = text; }, 50);
  }

  function page(title, ...content) {
    stopTimers();
    document.title = title + " — autodialer";
    const main = document.getElementById("main");
    main.replaceChildren(h("h1", { id: "page-title" }, title), ...content);
    main.focus();
    return main;
  }

  function stopTimers() {
    for (const id of timers) clearTimeout(id);
    timers = [];
  }

  // Re-run fn every `ms` (after it finishes) until the page changes.
  function every(ms, fn) {
    const generation = timers;
    const tick = async () => {
      try { await fn(); } catch (e) { if (e && e.status === 401) return; }
      if (generation === timers) timers.push(setTimeout(tick, ms));
    };
    timers.push(setTimeout(tick, ms));
  }

  // ---- HTTP

  function csrfToken() {
    const m = document.cookie.match(/(?:^|;\s*)autodialer_csrf=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : (me && me.csrf_token) || "";
  }

  class ApiError extends Error {
    constructor(status, body, headers) {
      super((body && (body.detail || body.title)) || "HTTP " + status);
      this.status = status;
      this.body = body || {};
      this.headers = headers || new Headers();
    }
  }

  async function call(method, path, body) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET") headers["X-CSRF-Token"] = csrfToken();
    const response = await fetch(path, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = { detail: text }; }
    if (response.status === 401 && !path.startsWith("/console/login")) {
      me = null;
      renderChrome();
      if (location.hash !== "#/login") {
        sessionStorage.setItem("autodialer.after", location.hash);
        location.hash = "#/login";
      }
    }
    if (!response.ok) throw new ApiError(response.status, data, response.headers);
    return { data, headers: response.headers };
  }

  const api = {
    get: (path) => call("GET", API + path).then((r) => r.data),
    post: (path, body) => call("POST", API + path, body === undefined ? {} : body).then((r) => r.data),
    patch: (path, body) => call("PATCH", API + path, body).then((r) => r.data),
    put: (path, body) => call("PUT", API + path, body).then((r) => r.data),
    del: (path) => call("DELETE", API + path).then((r) => r.data),
  };

  function showError(container, error) {
    const items = (error.body && error.body.errors) || [];
    container.replaceChildren(h("div", { class: "errors", role: "alert" },
      h("p", {}, t("error", { msg: error.message })),
      items.length ? h("ul", {}, items.map((e) => h("li", {}, e.field + ": " + reason(e.message)))) : null));
  }

  // ---- chrome (header)

  function renderChrome() {
    document.documentElement.lang = lang;
    document.getElementById("skip-link").textContent = t("skip");
    document.getElementById("lang-label").textContent = t("language");
    document.getElementById("lang-switch").value = lang;
    const logout = document.getElementById("logout");
    logout.textContent = t("signOut");
    logout.hidden = !(me && me.kind === "session");
    const who = document.getElementById("who");
    who.textContent = !me ? "" : me.kind === "exempt-address" ? t("localAccess") : t("signedInAs", { login: me.login });
    const nav = document.getElementById("nav");
    nav.setAttribute("aria-label", t("navCampaigns"));
    nav.replaceChildren(...(me ? [
      h("a", { href: "#/campaigns" }, t("navCampaigns")),
      h("a", { href: "#/campaigns/new" }, t("navNew")),
      ...extraNav.map((n) => h("a", { href: n.href }, t(n.label))),
      h("a", { href: "/api/docs" }, t("apiDocs")),
    ] : []));
  }

  // ---- pages

  function loginPage() {
    const error = h("div", { id: "login-error" });
    const loginInput = h("input", { type: "text", name: "login", autocomplete: "username", required: true });
    const passwordInput = h("input", { type: "password", name: "password", autocomplete: "current-password",
      required: true });
    const form = h("form", { class: "login", novalidate: true },
      h("div", { class: "form-grid" },
        field("login", t("login"), loginInput), field("password", t("password"), passwordInput)),
      error,
      h("p", {}, h("button", { type: "submit", class: "primary" }, t("signIn"))));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.replaceChildren();
      try {
        const r = await call("POST", "/console/login", { login: loginInput.value, password: passwordInput.value });
        me = r.data;
        renderChrome();
        const after = sessionStorage.getItem("autodialer.after");
        sessionStorage.removeItem("autodialer.after");
        location.hash = after && after !== "#/login" ? after : "#/campaigns";
      } catch (e) {
        let text = t("error", { msg: e.message });
        if (e.status === 401) text = t("wrongLogin", { n: e.headers.get("X-Attempts-Left") || "?" });
        if (e.status === 429) text = t("throttled", { n: e.headers.get("Retry-After") || "?" });
        error.replaceChildren(h("p", { class: "error", role: "alert" }, text));
        passwordInput.value = "";
        passwordInput.focus();
      }
    });
    page(t("signInTitle"), form);
    form.prepend(document.getElementById("page-title"));
    loginInput.focus();
  }

  async function campaignsPage() {
    const status = h("div", {});
    const body = h("tbody", {});
    const list = h("table", { id: "campaigns" },
      h("caption", {}, t("liveHint")),
      h("thead", {}, h("tr", {}, [t("colName"), t("colState"), t("colTarget"), t("colNumbers"), t("colProgress"),
        t("colOpen"), t("colResults"), t("colInFlight"), t("colAnswerRate"), t("colActions")]
        .map((x, i) => h("th", { scope: "col", class: [3, 5, 7, 8].includes(i) ? "num" : null }, x)))),
      body);
    page(t("campaignsTitle"), status, list,
      h("p", {}, h("a", { class: "button primary", href: "#/campaigns/new" }, t("navNew"))));
    const rows = new Map();
    async function refresh() {
      const campaigns = [];
      let cursor = null;
      do {
        const pageOf = await api.get("/campaigns?limit=200" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""));
        campaigns.push(...pageOf.items);
        cursor = pageOf.next_cursor;
      } while (cursor && campaigns.length < 1000);
      const stats = await Promise.all(campaigns.map((c) => api.get("/campaigns/" + c.id + "/stats").catch(() => null)));
      const ids = campaigns.map((c) => c.id).join(",");
      if (body.dataset.ids !== ids) {
        body.dataset.ids = ids;
        rows.clear();
        body.replaceChildren(...campaigns.map((c) => {
          const row = campaignRow(c);
          rows.set(c.id, row);
          return row.tr;
        }));
        if (!campaigns.length) body.append(h("tr", {}, h("td", { colspan: "10" }, t("noCampaigns"))));
      }
      campaigns.forEach((c, i) => rows.get(c.id).update(c, stats[i]));
      status.replaceChildren();
    }
    try { await refresh(); } catch (e) { showError(status, e); }
    every(1000, refresh);
  }

  function campaignRow(c) {
    const cells = {};
    const names = ["name", "state", "target", "total", "progress", "open", "results", "flight", "rate", "actions"];
    const tr = h("tr", { "data-campaign": c.id },
      names.map((n) => (cells[n] = h(n === "name" ? "th" : "td",
        { scope: n === "name" ? "row" : null, class: ["total", "open", "flight", "rate"].includes(n) ? "num" : null }))));
    let shownCampaign = "";
    let shownStats = "";
    function update(campaign, stats) {
      // Redraw only what changed: a focused button (Pause …) must not be replaced under the keyboard every second.
      const campaignKey = JSON.stringify(campaign);
      if (campaignKey !== shownCampaign) {
        shownCampaign = campaignKey;
        cells.name.replaceChildren(h("a", { href: "#/campaigns/" + campaign.id }, campaign.name || "#" + campaign.id));
        cells.state.replaceChildren(stateBadge(campaign.state));
        cells.target.textContent = targetText(campaign.target);
        cells.actions.replaceChildren(campaignActions(campaign, () => {}));
      }
      const statsKey = JSON.stringify(stats);
      if (statsKey === shownStats) return;
      shownStats = statsKey;
      const s = stats || {};
      const total = s.numbers_total || 0;
      const open = (s.numbers_by_result || {}).open || 0;
      cells.total.textContent = stats ? total : "—";
      cells.open.textContent = stats ? open : "—";
      cells.progress.replaceChildren(progressBar(s));
      cells.results.textContent = resultSummary(s.numbers_by_result);
      cells.flight.textContent = stats ? s.calls_in_flight : "—";
      cells.rate.textContent = stats ? fmtRate(s.answer_rate) : "—";
    }
    return { tr, update };
  }

  function stateBadge(state) {
    return h("span", { class: "badge state-" + state, "data-state": state }, t("state_" + state));
  }

  function targetText(target) {
    return (target.kind === "poll" ? t("kindPoll") : t("kindExtension")) + " " + target.value;
  }

  function resultSummary(byResult) {
    const parts = Object.entries(byResult || {}).filter(([k]) => k !== "open").map(([k, v]) => k + " " + v);
    return parts.length ? parts.join(", ") : "—";
  }

  function progressBar(stats) {
    const total = stats.numbers_total || 0;
    const byResult = stats.numbers_by_result || {};
    let ok = 0;
    let fail = 0;
    for (const [k, v] of Object.entries(byResult)) {
      if (k.startsWith("SUCCESS")) ok += v;
      else if (k !== "open") fail += v;
    }
    const pct = (n) => (total ? (100 * n) / total : 0);
    const done = ok + fail;
    // Widths through the CSSOM: the CSP allows no inline style attributes.
    const part = (cls, n) => { const span = h("span", { class: cls }); span.style.width = pct(n) + "%"; return span; };
    return h("div", { class: "bar", role: "img", "aria-label": done + " / " + total }, part("done", ok), part("fail", fail));
  }

  function campaignActions(campaign, after) {
    const id = campaign.id;
    const act = async (fn, message) => {
      try { await fn(); announce(message); await after(); } catch (e) { announce(t("error", { msg: e.message })); }
    };
    const label = (key) => t(key) + " — " + (campaign.name || "#" + id);
    return h("div", { class: "actions" },
      h("a", { class: "button", href: "#/campaigns/" + id + "/edit", "aria-label": label("edit") }, t("edit")),
      campaign.state === "active"
        ? h("button", { type: "button", "aria-label": label("pause"),
          onclick: () => act(() => api.post("/campaigns/" + id + "/pause"), t("paused")) }, t("pause"))
        : h("button", { type: "button", "aria-label": label("resume"),
          onclick: () => act(() => api.post("/campaigns/" + id + "/resume"), t("resumed")) }, t("resume")),
      h("a", { class: "button", href: "#/campaigns/" + id + "/results", "aria-label": label("results") }, t("results")),
      h("button", { type: "button", class: "danger", "aria-label": label("del"), onclick: () => {
        if (!confirm(t("confirmDelete", { name: campaign.name || "#" + id }))) return;
        act(async () => {
          await api.del("/campaigns/" + id);
          if (location.hash !== "#/campaigns") location.hash = "#/campaigns";
        }, t("deleted"));
      } }, t("del")));
  }

  async function campaignForm(id) {
    let campaign = null;
    if (id) {
      try { campaign = await api.get("/campaigns/" + id); } catch (e) { return notFoundPage(e); }
    }
    const inputs = {
      name: h("input", { type: "text", maxlength: "255", value: campaign ? campaign.name : "" }),
      external_id: h("input", { type: "text", maxlength: "255", value: campaign ? campaign.external_id : "",
        disabled: !!campaign }),
      "target.kind": h("select", {},
        h("option", { value: "extension" }, t("kindExtension")), h("option", { value: "poll" }, t("kindPoll"))),
      "target.value": h("input", { type: "text", inputmode: "numeric", required: true, pattern: "[0-9*#]+",
        value: campaign ? campaign.target.value : "" }),
      lines: h("input", { type: "number", min: "1", max: "1000", required: true,
        value: campaign ? campaign.lines : 1 }),
      dial_prefix: h("input", { type: "text", maxlength: "32", value: campaign ? campaign.dial_prefix : "" }),
      state: h("select", {}, h("option", { value: "active" }, t("startActive")),
        h("option", { value: "paused" }, t("startPaused"))),
      csv: h("input", { type: "file", accept: ".csv,text/csv,text/plain" }),
    };
    const sched = (campaign && campaign.schedule) || {};
    const localTime = (iso) => {  // an ISO instant as the browser's local datetime-local value
      if (!iso) return "";
      const d = new Date(iso);
      return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
    };
    inputs["schedule.hours"] = h("input", { type: "text", maxlength: "500", value: sched.hours || "",
      placeholder: "09:00-21:00; sat,sun 10:00-20:00" });
    inputs["schedule.excluded_dates"] = h("input", { type: "text", maxlength: "4000",
      value: sched.excluded_dates || "", placeholder: "2027-01-01..2027-01-08, 2027-02-23" });
    inputs["schedule.starts_at"] = h("input", { type: "datetime-local", value: localTime(sched.starts_at) });
    inputs["schedule.ends_at"] = h("input", { type: "datetime-local", value: localTime(sched.ends_at) });
    inputs["schedule.default_zone"] = h("input", { type: "text", maxlength: "64", value: sched.default_zone || "",
      placeholder: "Europe/Moscow" });
    if (campaign) inputs["target.kind"].value = campaign.target.kind;
    const pacing = (campaign && campaign.pacing) || { mode: "progressive" };
    const harbor = pacing.safe_harbor || {};
    inputs["pacing.mode"] = h("select", {}, ...["progressive", "power", "predictive"].map(
      (mode) => h("option", { value: mode }, t("pacing_" + mode))));
    inputs["pacing.mode"].value = pacing.mode;
    inputs["pacing.lines_per_agent"] = h("input", { type: "number", min: "1", max: "10", step: "any",
      value: pacing.lines_per_agent ?? "", placeholder: "1.5" });
    inputs["pacing.max_abandon_rate"] = h("input", { type: "number", min: "0.001", max: "0.2", step: "any",
      value: pacing.max_abandon_rate ?? "", placeholder: "0.03" });
    inputs["pacing.abandon_after_s"] = h("input", { type: "number", min: "1", max: "60", step: "any",
      value: pacing.abandon_after_s ?? "", placeholder: "2" });
    inputs["pacing.safe_harbor.text"] = h("input", { type: "text", maxlength: "500", value: harbor.text || "" });
    const pacingFields = {  // the inputs each mode uses; the others are disabled (and not sent)
      progressive: [],
      power: ["lines_per_agent", "abandon_after_s", "safe_harbor.text"],
      predictive: ["max_abandon_rate", "abandon_after_s", "safe_harbor.text"],
    };
    const showPacing = () => {
      const used = pacingFields[inputs["pacing.mode"].value];
      for (const name of ["lines_per_agent", "max_abandon_rate", "abandon_after_s", "safe_harbor.text"]) {
        inputs["pacing." + name].disabled = !used.includes(name);
      }
    };
    inputs["pacing.mode"].addEventListener("change", showPacing);
    showPacing();
    const retryRows = RETRY_CLASSES.map((cls) => {
      const rule = (campaign && campaign.retry_policy && campaign.retry_policy[cls]) || {};
      const delay = h("input", { type: "number", min: "0", max: "604800", step: "any", id: "f-retry-" + cls + "-delay",
        value: rule.delay_s ?? "" });
      const max = h("input", { type: "number", min: "0", max: "20", id: "f-retry-" + cls + "-max",
        value: rule.max_retries ?? "" });
      inputs["retry_policy." + cls + ".delay_s"] = delay;
      inputs["retry_policy." + cls + ".max_retries"] = max;
      return h("tr", {}, h("th", { scope: "row" }, t("rc_" + cls)),
        h("td", {}, h("label", { for: delay.id, class: "visually-hidden" }, t("rc_" + cls) + ": " + t("retryDelay")), delay),
        h("td", {}, h("label", { for: max.id, class: "visually-hidden" }, t("rc_" + cls) + ": " + t("retryMax")), max));
    });
    const errors = h("div", { id: "form-errors" });
    const grid = h("div", { class: "form-grid" },
      field("f-name", t("fName"), inputs.name),
      field("f-external-id", t("fExternalId"), inputs.external_id),
      field("f-target-kind", t("fTargetKind"), inputs["target.kind"]),
      field("f-target-value", t("fTargetValue"), inputs["target.value"]),
      field("f-lines", t("fLines"), inputs.lines),
      field("f-dial-prefix", t("fDialPrefix"), inputs.dial_prefix),
      campaign ? [] : field("f-state", t("fStartState"), inputs.state),
      campaign ? [] : field("f-csv", t("fCsv"), inputs.csv, t("csvHint")));
    const form = h("form", { novalidate: true }, errors, grid,
      h("fieldset", {}, h("legend", {}, t("retryPolicy")),
        table("", [t("retryClass"), t("retryDelay"), t("retryMax")], retryRows)),
      h("fieldset", {}, h("legend", {}, t("schedule")), h("div", { class: "form-grid" },
        field("f-hours", t("fHours"), inputs["schedule.hours"], t("hoursHint")),
        field("f-excluded", t("fExcluded"), inputs["schedule.excluded_dates"]),
        field("f-starts-at", t("fStartsAt"), inputs["schedule.starts_at"]),
        field("f-ends-at", t("fEndsAt"), inputs["schedule.ends_at"]),
        field("f-default-zone", t("fDefaultZone"), inputs["schedule.default_zone"]))),
      h("fieldset", {}, h("legend", {}, t("pacing")), h("div", { class: "form-grid" },
        field("f-pacing-mode", t("fPacingMode"), inputs["pacing.mode"], t("pacingHint")),
        field("f-lines-per-agent", t("fLinesPerAgent"), inputs["pacing.lines_per_agent"]),
        field("f-max-abandon", t("fMaxAbandon"), inputs["pacing.max_abandon_rate"], t("maxAbandonHint")),
        field("f-abandon-after", t("fAbandonAfter"), inputs["pacing.abandon_after_s"]),
        field("f-safe-harbor", t("fSafeHarbor"), inputs["pacing.safe_harbor.text"], t("safeHarborHint")))),
      h("p", { class: "actions" },
        h("button", { type: "submit", class: "primary" }, campaign ? t("save") : t("create")),
        h("a", { class: "button", href: campaign ? "#/campaigns/" + id : "#/campaigns" }, t("cancel"))));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      for (const input of Object.values(inputs)) input.removeAttribute("aria-invalid");
      errors.replaceChildren();
      const retry = {};
      for (const cls of RETRY_CLASSES) {
        const rule = {};
        const d = inputs["retry_policy." + cls + ".delay_s"].value;
        const m = inputs["retry_policy." + cls + ".max_retries"].value;
        if (d !== "") rule.delay_s = Number(d);
        if (m !== "") rule.max_retries = Number(m);
        if (Object.keys(rule).length) retry[cls] = rule;
      }
      const body = {
        name: inputs.name.value,
        target: { kind: inputs["target.kind"].value, value: inputs["target.value"].value.trim() },
        lines: inputs.lines.value === "" ? null : Number(inputs.lines.value),
        dial_prefix: inputs.dial_prefix.value.trim(),
        retry_policy: Object.keys(retry).length ? retry : null,
      };
      const text = (name) => inputs["schedule." + name].value.trim();
      const instant = (name) => (text(name) ? new Date(text(name)).toISOString() : null);
      const schedule = { hours: text("hours") || null, excluded_dates: text("excluded_dates"),
        starts_at: instant("starts_at"), ends_at: instant("ends_at"), default_zone: text("default_zone") || null };
      body.schedule = Object.values(schedule).some((v) => v) ? schedule : null;
      // Pacing is sent only when it is not progressive or was not before: a v1 task stays as 1C made it.
      const mode = inputs["pacing.mode"].value;
      if (mode !== "progressive" || pacing.mode !== "progressive") {
        const p = { mode };
        const num = (name) => {
          const input = inputs["pacing." + name];
          if (!input.disabled && input.value !== "") p[name] = Number(input.value);
        };
        num("lines_per_agent");
        num("max_abandon_rate");
        num("abandon_after_s");
        if (mode !== "progressive") {
          const words = inputs["pacing.safe_harbor.text"].value.trim();
          const sh = { text: words || null, audio: harbor.audio || null, lang: harbor.lang || null };
          if (Object.values(sh).some((v) => v)) p.safe_harbor = sh;
        }
        body.pacing = p;
      }
      try {
        let saved;
        if (campaign) {
          saved = await api.patch("/campaigns/" + id, body);
        } else {
          if (inputs.external_id.value.trim()) body.external_id = inputs.external_id.value.trim();
          if (!body.retry_policy) delete body.retry_policy;
          const file = inputs.csv.files && inputs.csv.files[0] ? inputs.csv.files[0] : null;
          // With numbers to import it starts paused (an active campaign without numbers would be closed by the
          // dialer at once) and is resumed after the import if it was to start at once.
          body.state = file ? "paused" : inputs.state.value;
          saved = await api.post("/campaigns", body);
          pendingCsv = file ? { file, resume: inputs.state.value === "active" } : null;
        }
        announce(t("saved"));
        location.hash = "#/campaigns/" + saved.id;
      } catch (e) {
        const items = (e.body && e.body.errors) || [];
        for (const item of items) {
          const input = inputs[item.field.replace(/^body\./, "")];
          if (input) input.setAttribute("aria-invalid", "true");
        }
        showError(errors, e);
        const first = items.map((i) => inputs[i.field]).find(Boolean);
        (first || errors).focus && (first || errors.firstChild).focus && (first || errors.firstChild).focus();
      }
    });
    page(campaign ? t("editTitle", { name: campaign.name || "#" + id }) : t("newTitle"), form);
  }

  function notFoundPage(error) {
    const box = h("div", {});
    page(t("notFound"), box, h("p", {}, h("a", { href: "#/campaigns" }, t("navCampaigns"))));
    showError(box, error);
  }

  async function campaignPage(id) {
    let campaign;
    try { campaign = await api.get("/campaigns/" + id); } catch (e) { return notFoundPage(e); }
    const header = h("div", {});
    const stats = liveStats(id);
    const importer = importSection(id);
    const numbers = numbersSection(id, false);
    page(t("campaignTitle", { name: campaign.name || "#" + id }), header,
      h("h2", {}, t("liveTitle")), stats.node, importer.node, numbers.node);
    let shownHeader = "";
    async function refreshHeader() {
      campaign = await api.get("/campaigns/" + id);
      const key = JSON.stringify(campaign) + lang;
      if (key === shownHeader) return;  // keep the focused button in place
      shownHeader = key;
      header.replaceChildren(
        h("p", {}, stateBadge(campaign.state), " · ", t("target"), ": ", targetText(campaign.target), " · ",
          t("lines"), ": ", String(campaign.lines)),
        campaignActions(campaign, refreshHeader));
    }
    await refreshHeader();
    importer.onDone = () => numbers.reload();
    await Promise.all([stats.refresh(), numbers.reload()]);
    every(1000, async () => {
      if (await stats.refresh()) await numbers.refreshLive();
      const before = campaign.state;
      await refreshHeader();
      if (before !== campaign.state) announce(t("state_" + campaign.state));
    });
    if (pendingCsv) {
      const pending = pendingCsv;
      pendingCsv = null;
      await importer.run(pending.file);
      if (pending.resume) {
        try { await api.post("/campaigns/" + id + "/resume"); await refreshHeader(); } catch (e) { showError(header, e); }
      }
    }
  }

  function liveStats(id) {
    const values = {};
    const card = (key, label) => h("div", { class: "card" }, h("dt", {}, label),
      (values[key] = h("dd", { id: "stat-" + key }, "—")));
    const byState = h("div", {});
    const byResult = h("div", {});
    const node = h("section", { "aria-labelledby": "live-h" },
      h("h3", { id: "live-h", class: "visually-hidden" }, t("liveTitle")),
      h("dl", { class: "cards" },
        card("total", t("sTotal")), card("open", t("sOpen")), card("flight", t("sInFlight")),
        card("ended", t("sEnded")), card("answered", t("sAnswered")), card("rate", t("sRate")),
        card("minute", t("sLastMinute")), card("hour", t("sLastHour"))),
      h("div", { class: "split" }, byState, byResult),
      h("p", { class: "hint" }, t("liveHint")));
    let shown = "";
    async function refresh() {
      const s = await api.get("/campaigns/" + id + "/stats");
      const key = JSON.stringify(s);
      if (key === shown) return false;
      shown = key;
      values.total.textContent = s.numbers_total;
      values.open.textContent = s.numbers_by_result.open || 0;
      values.flight.textContent = s.calls_in_flight;
      values.ended.textContent = s.attempts_ended;
      values.answered.textContent = s.answered;
      values.rate.textContent = fmtRate(s.answer_rate);
      values.hour.textContent = s.originates_last_hour;
      values.minute.textContent = s.originates_last_minute ?? "—";
      const rows = (obj, attr) => Object.entries(obj).map(([k, v]) =>
        h("tr", { [attr]: k }, h("th", { scope: "row" }, k), h("td", { class: "num" }, String(v))));
      byState.replaceChildren(table(t("byState"), [t("stateCol"), t("count")],
        rows(s.numbers_by_state, "data-state"), [false, true]));
      byResult.replaceChildren(table(t("byResult"), [t("resultCol"), t("count")],
        rows(s.numbers_by_result, "data-result"), [false, true]));
      return true;
    }
    return { node, refresh };
  }

  // ---- CSV import

  function parseCsv(text) {
    // RFC 4180 with "," or ";" (whichever the first line has more of), quotes doubled inside quoted fields.
    text = text.replace(/^\uFEFF/, "");
    const firstLine = text.split(/\r?\n/, 1)[0] || "";
    const delimiter = (firstLine.match(/;/g) || []).length > (firstLine.match(/,/g) || []).length ? ";" : ",";
    const rows = [];
    let row = [];
    let cell = "";
    let quoted = false;
    let line = 1;
    let rowLine = 1;
    for (let i = 0; i < text.length; i++) {
      const ch = text[i];
      if (quoted) {
        if (ch === '"' && text[i + 1] === '"') { cell += '"'; i++; }
        else if (ch === '"') quoted = false;
        else { if (ch === "\n") line++; cell += ch; }
      } else if (ch === '"') quoted = true;
      else if (ch === delimiter) { row.push(cell); cell = ""; }
      else if (ch === "\n" || ch === "\r") {
        if (ch === "\r" && text[i + 1] === "\n") i++;
        row.push(cell); rows.push({ line: rowLine, cells: row }); row = []; cell = ""; line++; rowLine = line;
      } else cell += ch;
    }
    if (cell !== "" || row.length) { row.push(cell); rows.push({ line: rowLine, cells: row }); }
    return rows.filter((r) => r.cells.some((c) => c.trim() !== ""));
  }

  // "Why it waits": the API's own words in English; in Russian the same verdict told from each hold's kind.
  function explainLines(why, n) {
    if (why.allowed && !why.holds.length) return [t("allowedNow")];
    if (lang !== "ru") return why.text;
    const lines = why.holds.map((hold) => {
      const words = I18N.ruHolds[hold.kind];
      if (!words) return hold.text;
      return words.replace("{until}", fmtTime(hold.until)).replace("{result}", n.result || "—");
    });
    lines.push(why.next_at ? I18N.ruHolds.next.replace("{at}", fmtTime(why.next_at))
      : why.waits_for_change ? I18N.ruHolds.change : I18N.ruHolds.never);
    return lines;
  }

  function csvNumbers(rows) {
    // A first row whose first cell has no digit names the columns.
    let header = null;
    if (rows.length && !/\d/.test(rows[0].cells[0] || "")) header = rows.shift().cells.map((c) => c.trim());
    const lower = header ? header.map((c) => c.toLowerCase()) : [];
    let phoneAt = lower.findIndex((c) => ["phone", "number", "телефон", "номер"].includes(c));
    if (phoneAt < 0) phoneAt = 0;
    const notBeforeAt = lower.indexOf("not_before");
    const good = [];
    const bad = [];
    for (const r of rows) {
      const phone = (r.cells[phoneAt] || "").trim();
      if (!phone) { bad.push({ line: r.line, phone, reason: t("emptyPhone") }); continue; }
      const item = { phone };
      if (header) {
        const params = {};
        header.forEach((name, i) => {
          if (i === phoneAt || i === notBeforeAt || !name) return;
          const value = (r.cells[i] || "").trim();
          if (value !== "") params[name] = value;
        });
        if (Object.keys(params).length) item.params = params;
        if (notBeforeAt >= 0 && (r.cells[notBeforeAt] || "").trim()) item.not_before = r.cells[notBeforeAt].trim();
      }
      good.push({ line: r.line, item });
    }
    return { good, bad };
  }

  function importSection(id) {
    const file = h("input", { type: "file", id: "import-file", accept: ".csv,text/csv,text/plain" });
    const bar = h("progress", { id: "import-progress", max: "1", value: "0", "aria-labelledby": "import-progress-label" });
    const status = h("p", { id: "import-status", role: "status" });
    const rejected = h("div", { id: "import-rejected" });
    const self = { onDone: () => {} };
    const form = h("form", {},
      h("div", { class: "filters" },
        h("div", {}, h("label", { for: "import-file" }, t("csvFile")), file),
        h("button", { type: "submit" }, t("importBtn"))),
      h("p", { class: "hint" }, t("csvHint")),
      h("p", {}, h("span", { id: "import-progress-label" }, t("importProgress")), " ", bar),
      status, rejected);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!file.files || !file.files[0]) { status.textContent = t("chooseFile"); return; }
      self.run(file.files[0]);
    });
    self.node = h("section", { "aria-labelledby": "import-h" }, h("h2", { id: "import-h" }, t("importTitle")), form);
    self.run = async (chosen) => {
      rejected.replaceChildren();
      const { good, bad } = csvNumbers(parseCsv(await chosen.text()));
      const total = good.length + bad.length;
      if (!total) { status.textContent = t("noRows"); return; }
      bar.max = total;
      let done = bad.length;
      let accepted = 0;
      const show = () => { bar.value = done; status.textContent = t("importing", { done, total }); };
      show();
      for (let start = 0; start < good.length; start += IMPORT_CHUNK) {
        let chunk = good.slice(start, start + IMPORT_CHUNK);
        // The import is all or nothing per request: drop the rows the API names and send the rest again.
        while (chunk.length) {
          try {
            const r = await api.post("/campaigns/" + id + "/numbers", { numbers: chunk.map((x) => x.item) });
            accepted += r.accepted;
            break;
          } catch (e) {
            const named = new Map();
            for (const err of (e.body && e.body.errors) || []) {
              const m = /^numbers\[(\d+)\](?:\.(.*))?$/.exec(err.field || "");
              if (m && chunk[Number(m[1])]) named.set(Number(m[1]), (m[2] ? m[2] + ": " : "") + reason(err.message));
            }
            if (e.status !== 422 || !named.size) {
              for (const x of chunk) bad.push({ line: x.line, phone: x.item.phone, reason: e.message });
              break;
            }
            for (const [i, why] of named) bad.push({ line: chunk[i].line, phone: chunk[i].item.phone, reason: why });
            chunk = chunk.filter((_, i) => !named.has(i));
          }
        }
        done = Math.min(total, start + IMPORT_CHUNK + bad.length);
        show();
      }
      bar.value = total;
      status.textContent = t("importDone", { ok: accepted, bad: bad.length });
      bad.sort((a, b) => a.line - b.line);
      if (bad.length) {
        rejected.replaceChildren(table(t("rejectedTitle"), [t("colLine"), t("colPhone"), t("colReason")],
          bad.map((b) => h("tr", { class: "rejected" }, h("td", { class: "num" }, String(b.line)), h("td", {}, b.phone),
            h("td", {}, b.reason))), [true, false, false]));
      }
      announce(status.textContent);
      self.onDone();
    };
    return self;
  }

  // ---- numbers and results

  function filterForm(prefix, onApply) {
    const state = h("select", { id: prefix + "-state" }, h("option", { value: "" }, t("any")),
      STATES.map((s) => h("option", { value: s }, s)));
    const result = h("select", { id: prefix + "-result" }, h("option", { value: "" }, t("any")),
      h("option", { value: "open" }, t("resultOpen")), RESULTS.map((s) => h("option", { value: s }, s)));
    const phone = h("input", { type: "search", id: prefix + "-phone", inputmode: "tel" });
    const form = h("form", { class: "filters", role: "search" },
      h("div", {}, h("label", { for: state.id }, t("fState")), state),
      h("div", {}, h("label", { for: result.id }, t("fResult")), result),
      h("div", {}, h("label", { for: phone.id }, t("fPhone")), phone),
      h("button", { type: "submit" }, t("apply")),
      h("button", { type: "reset" }, t("reset")));
    const query = () => {
      const q = new URLSearchParams();
      if (state.value) q.set("state", state.value);
      if (result.value) q.set("result", result.value);
      if (phone.value.trim()) q.set("phone", phone.value.trim());
      return q;
    };
    form.addEventListener("submit", (e) => { e.preventDefault(); onApply(); });
    form.addEventListener("reset", () => setTimeout(onApply, 0));
    return { form, query };
  }

  function numbersSection(id, resultsView) {
    const errors = h("div", {});
    const body = h("tbody", {});
    const moreButton = h("button", { type: "button", hidden: true }, t("more"));
    const filters = filterForm(resultsView ? "results" : "numbers", () => reload());
    const headers = resultsView
      ? [t("colPhone"), t("resultCol"), t("stateCol"), t("colAttempts"), t("colClosed"), t("colChanged")]
      : [t("colPhone"), t("stateCol"), t("resultCol"), t("colAttempts"), t("colRetryAt"), t("colInCall"), t("details")];
    const tableNode = h("table", { id: resultsView ? "results-table" : "numbers-table" },
      h("caption", {}, resultsView ? t("results") : t("numbersTitle")),
      h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))), body);
    let cursor = null;
    function row(n) {
      if (resultsView) {
        return h("tr", { "data-phone": n.phone }, h("th", { scope: "row" }, n.phone), h("td", {}, n.result || "—"),
          h("td", {}, n.state), h("td", { class: "num" }, String(n.attempts)), h("td", {}, fmtTime(n.closed_at)),
          h("td", {}, fmtTime(n.changed_at)));
      }
      const toggle = h("button", { type: "button", "aria-expanded": "false",
        "aria-label": t("details") + " — " + n.phone }, t("details"));
      const cells = [h("td", {}), h("td", {}), h("td", { class: "num" }), h("td", {}), h("td", {})];
      const tr = h("tr", { "data-phone": n.phone, "data-id": n.id }, h("th", { scope: "row" }, n.phone), cells,
        h("td", {}, toggle));
      tr.update = (m) => {
        const values = [m.state, m.result || "—", String(m.attempts), fmtTime(m.retry_at), m.in_call ? t("yes") : t("no")];
        values.forEach((v, i) => { if (cells[i].textContent !== v) cells[i].textContent = v; });
        n = m;
      };
      tr.update(n);
      let detail = null;
      toggle.addEventListener("click", async () => {
        if (detail) {
          detail.remove(); detail = null;
          toggle.setAttribute("aria-expanded", "false"); toggle.textContent = t("details");
          return;
        }
        const cell = h("td", { colspan: String(headers.length) }, t("loading"));
        detail = h("tr", { class: "details" }, cell);
        tr.after(detail);
        toggle.setAttribute("aria-expanded", "true"); toggle.textContent = t("hideDetails");
        try {
          const base = "/campaigns/" + id + "/numbers/" + n.id;
          const [attempts, why] = await Promise.all([api.get(base + "/attempts"), api.get(base + "/explain")]);
          cell.replaceChildren(
            h("h3", {}, t("whyTitle")),
            h("ul", { class: "explain" }, explainLines(why, n).map((line) => h("li", {}, line))),
            attempts.items.length
              ? table(t("attemptsTitle"), [t("colNo"), t("colMode"), t("colAgent"), t("colOutcome"), t("colCause"),
                t("colStarted"), t("colAnswered"), t("colEnded")], attempts.items.map((a) => h("tr", {},
                h("td", { class: "num" }, String(a.attempt_no)), h("td", {}, a.mode), h("td", {}, a.agent || "—"),
                h("td", {}, a.outcome || a.state), h("td", {}, a.cause_text || (a.cause ?? "—")),
                h("td", {}, fmtTime(a.started_at)), h("td", {}, fmtTime(a.answered_at)),
                h("td", {}, fmtTime(a.ended_at)))))
              : h("p", {}, t("noAttempts")));
        } catch (e) { showError(cell, e); }
      });
      return tr;
    }
    async function load(append) {
      errors.replaceChildren();
      const q = filters.query();
      q.set("limit", "100");
      if (append && cursor) q.set("cursor", cursor);
      try {
        const pageOf = await api.get("/campaigns/" + id + "/numbers?" + q.toString());
        if (!append) body.replaceChildren();
        body.append(...pageOf.items.map(row));
        if (!body.children.length) body.append(h("tr", {}, h("td", { colspan: String(headers.length) }, t("noNumbers"))));
        cursor = pageOf.next_cursor;
        moreButton.hidden = !cursor;
      } catch (e) { showError(errors, e); }
    }
    const reload = () => load(false);
    // Live: the rows on screen get their new state in place; a changed set of rows is redrawn unless a row's
    // details are open (redrawing would close them under the reader).
    async function refreshLive() {
      const shown = [...body.querySelectorAll("tr[data-id]")];
      if (!shown.length) return;
      const q = filters.query();
      q.set("limit", String(Math.min(1000, Math.max(100, shown.length))));
      const pageOf = await api.get("/campaigns/" + id + "/numbers?" + q.toString());
      const byId = new Map(pageOf.items.map((n) => [String(n.id), n]));
      const same = shown.length === pageOf.items.length && shown.every((tr) => byId.has(tr.dataset.id));
      if (same) shown.forEach((tr) => tr.update && tr.update(byId.get(tr.dataset.id)));
      else if (!body.querySelector("tr.details")) await reload();
    }
    moreButton.addEventListener("click", () => load(true));
    const refresh = h("button", { type: "button", onclick: reload }, t("refresh"));
    const node = h("section", { "aria-labelledby": "numbers-h" },
      resultsView ? null : h("h2", { id: "numbers-h" }, t("numbersTitle")),
      filters.form, errors, h("div", { class: "actions" }, refresh), tableNode, moreButton);
    return { node, reload, refreshLive, query: filters.query };
  }

  async function resultsPage(id) {
    let campaign;
    try { campaign = await api.get("/campaigns/" + id); } catch (e) { return notFoundPage(e); }
    const status = h("p", { role: "status", id: "export-status" });
    const list = numbersSection(id, true);
    const exportButton = h("button", { type: "button", class: "primary", id: "export" }, t("exportCsv"));
    // The v2 export route streams the CSV with the same filters; the browser downloads it with the session cookie.
    exportButton.addEventListener("click", () => {
      const link = h("a", { href: API + "/campaigns/" + id + "/numbers.csv?" + list.query().toString(), download: "" });
      document.body.append(link);
      link.click();
      link.remove();
      status.textContent = t("exportStarted");
    });
    page(t("resultsTitle", { name: campaign.name || "#" + id }),
      h("p", { class: "actions" }, h("a", { class: "button", href: "#/campaigns/" + id }, t("back")), exportButton),
      status, list.node);
    await list.reload();
  }

  // ---- pages from other files (polls.js, audio.js …). Each pushes onto window.CONSOLE_PAGES, before this file
  // runs, a function(kit) returning {nav: [{href, label}], routes: [[RegExp on the hash, render(match)]]}.

  const extraNav = [];
  const extraRoutes = [];

  function loadPages() {
    const kit = { h, t, api, call, page, field, table, announce, showError, every, notFoundPage, csrfToken, reason,
      fmtTime, API, ApiError, lang: () => lang };
    for (const register of window.CONSOLE_PAGES || []) {
      const added = register(kit) || {};
      extraNav.push(...(added.nav || []));
      extraRoutes.push(...(added.routes || []));
    }
  }

  // ---- routing

  async function route() {
    stopTimers();
    const hash = location.hash || "#/campaigns";
    if (hash === "#/login") return loginPage();
    if (!me) {
      try { me = (await call("GET", "/console/me")).data; } catch (e) { return; } // 401 sends us to #/login
      renderChrome();
    }
    let m;
    if (hash === "#/campaigns" || hash === "#/" || hash === "#") return campaignsPage();
    if (hash === "#/campaigns/new") return campaignForm(null);
    if ((m = /^#\/campaigns\/(\d+)$/.exec(hash))) return campaignPage(m[1]);
    if ((m = /^#\/campaigns\/(\d+)\/edit$/.exec(hash))) return campaignForm(m[1]);
    if ((m = /^#\/campaigns\/(\d+)\/results$/.exec(hash))) return resultsPage(m[1]);
    for (const [pattern, render] of extraRoutes) if ((m = pattern.exec(hash))) return render(m);
    location.hash = "#/campaigns";
  }

  function start() {
    document.getElementById("lang-switch").addEventListener("change", (e) => {
      lang = e.target.value;
      localStorage.setItem("autodialer.lang", lang);
      renderChrome();
      route();
    });
    document.getElementById("logout").addEventListener("click", async () => {
      try { await call("POST", "/console/logout"); } catch (e) { /* the session may already be gone */ }
      me = null;
      renderChrome();
      location.hash = "#/login";
    });
    window.addEventListener("hashchange", route);
    loadPages();
    renderChrome();
    route();
  }

  start();
})();
