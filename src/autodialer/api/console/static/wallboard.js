"use strict";
// The live wallboard (#/wallboard): agents, calls, campaigns and the PBX link, kept current by the server-sent events
// of GET /api/v2/events. It reads the state once (/api/v2/live/*), then applies each event to what it shows; an
// event that says "read again" (campaigns, resync) re-reads. Nothing polls: counts move because events arrive.
// It registers itself with console.js (window.CONSOLE_PAGES) and uses the console's helpers (its kit, here ui).
(function () {
  Object.assign(window.CONSOLE_I18N.en, { navWallboard: "Wallboard" });
  Object.assign(window.CONSOLE_I18N.ru, { navWallboard: "Табло" });
  let leave = null; // closes the stream of the wallboard shown last (another page, or the language switch)
  const API = "/api/v2";
  const AGENT_STATES = ["free", "reserved", "ringing", "talking", "paused", "unavailable"];
  const WORDS = {
    en: {
      title: "Wallboard", pbx: "PBX link", agents: "Agents", calls: "Calls", campaigns: "Campaigns",
      live_on: "Live: updates arrive as they happen.", live_off: "Live updates interrupted; reconnecting…",
      pbx_up: "connected since {since}", pbx_down: "not connected ({state} since {since})", pbx_off: "this instance does not dial",
      last_error: "last error: {error}",
      free: "Free", reserved: "Reserved", ringing: "Ringing", talking: "Talking", paused: "Paused", unavailable: "Unavailable",
      callsRinging: "Ringing", callsTalking: "Talking", perMinute: "Originates / min",
      agentsTable: "Agents and their state", colExtension: "Extension", colDevice: "Device", colState: "State",
      colQueues: "Queues", noAgents: "No agents known (the PBX link is down or has no extensions).",
      callsTable: "Calls in flight", colCampaign: "Campaign", colPhone: "Phone", colAgent: "Agent", colPhase: "Phase",
      colSince: "Started", noCalls: "No calls in flight.",
      campaignsTable: "Campaigns: numbers, calls and rates", colName: "Name", colCState: "State", colOpen: "Open",
      colTotal: "Numbers", colRinging: "Ringing", colTalking: "Talking", colMinute: "Originates / min",
      colAnswer: "Answer rate", colAbandon: "Abandoned", noCampaigns: "No campaigns.",
      show: "Show campaigns", showOpen: "active and paused", showAll: "all",
      state_active: "active", state_paused: "paused", state_closed: "closed",
      lastEvent: "Last update: {at}", abandonedOf: "{n} ({rate})",
    },
    ru: {
      title: "Табло", pbx: "Связь с АТС", agents: "Сотрудники", calls: "Звонки", campaigns: "Кампании",
      live_on: "Онлайн: изменения приходят сразу.", live_off: "Обновления прерваны; переподключение…",
      pbx_up: "подключено с {since}", pbx_down: "нет связи ({state} с {since})", pbx_off: "этот экземпляр не звонит",
      last_error: "последняя ошибка: {error}",
      free: "Свободны", reserved: "Забронированы", ringing: "Звонит телефон", talking: "Разговаривают",
      paused: "На паузе", unavailable: "Недоступны",
      callsRinging: "Дозвон", callsTalking: "Разговор", perMinute: "Наборов в минуту",
      agentsTable: "Сотрудники и их состояние", colExtension: "Номер", colDevice: "Устройство", colState: "Состояние",
      colQueues: "Очереди", noAgents: "Сотрудники неизвестны (нет связи с АТС или нет внутренних номеров).",
      callsTable: "Звонки сейчас", colCampaign: "Кампания", colPhone: "Телефон", colAgent: "Сотрудник",
      colPhase: "Фаза", colSince: "Начало", noCalls: "Звонков сейчас нет.",
      campaignsTable: "Кампании: номера, звонки и доли", colName: "Название", colCState: "Состояние",
      colOpen: "Осталось", colTotal: "Номеров", colRinging: "Дозвон", colTalking: "Разговор",
      colMinute: "Наборов в минуту", colAnswer: "Дозвонились", colAbandon: "Брошенные", noCampaigns: "Кампаний нет.",
      show: "Показать кампании", showOpen: "активные и на паузе", showAll: "все",
      state_active: "активна", state_paused: "на паузе", state_closed: "закрыта",
      lastEvent: "Последнее обновление: {at}", abandonedOf: "{n} ({rate})",
    },
  };
  const PHASE = { en: { ringing: "ringing", talking: "talking" }, ru: { ringing: "дозвон", talking: "разговор" } };

  const fmtRate = (rate) => (rate === null || rate === undefined ? "—" : (rate * 100).toFixed(1) + " %");

  function render(ui) {
    if (leave) leave();
    const { h } = ui;
    const w = (key, vars) => {
      let text = (WORDS[ui.lang()] || WORDS.en)[key] || WORDS.en[key] || key;
      for (const [k, v] of Object.entries(vars || {})) text = text.split("{" + k + "}").join(String(v));
      return text;
    };
    const agents = new Map();
    const calls = new Map();
    const campaigns = new Map();
    let link = null;
    let showAll = false;
    let source = null;
    let rereading = null;
    let left = false;

    // ---- the page
    const liveNote = h("p", { id: "wb-live", role: "status" }, "");
    const pbxLine = h("p", { id: "wb-pbx" }, "—");
    const lastEvent = h("p", { id: "wb-last", class: "hint" }, "");
    const card = (id, label) => h("div", { class: "card" }, h("dt", {}, label), h("dd", { id }, "0"));
    const agentCards = h("dl", { class: "cards", "aria-label": w("agents") },
      AGENT_STATES.map((s) => card("wb-agents-" + s, w(s))));
    const callCards = h("dl", { class: "cards", "aria-label": w("calls") },
      card("wb-calls-ringing", w("callsRinging")), card("wb-calls-talking", w("callsTalking")),
      card("wb-originates", w("perMinute")));
    const agentBody = h("tbody", { id: "wb-agents" });
    const callBody = h("tbody", { id: "wb-calls" });
    const campaignBody = h("tbody", { id: "wb-campaigns" });
    const filter = h("select", { id: "wb-show" },
      h("option", { value: "open" }, w("showOpen")), h("option", { value: "all" }, w("showAll")));
    filter.addEventListener("change", () => { showAll = filter.value === "all"; drawCampaigns(); });
    const table = (caption, headers, body, numeric) => h("table", {},
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, headers.map((x, i) => h("th", { scope: "col", class: numeric[i] ? "num" : null }, x)))),
      body);

    ui.page(w("title"),
      liveNote,
      h("section", { "aria-labelledby": "wb-pbx-h" }, h("h2", { id: "wb-pbx-h" }, w("pbx")), pbxLine),
      h("section", { "aria-labelledby": "wb-calls-h" }, h("h2", { id: "wb-calls-h" }, w("calls")), callCards,
        table(w("callsTable"), [w("colCampaign"), w("colPhone"), w("colAgent"), w("colPhase"), w("colSince")],
          callBody, [])),
      h("section", { "aria-labelledby": "wb-campaigns-h" }, h("h2", { id: "wb-campaigns-h" }, w("campaigns")),
        h("div", { class: "filters" }, h("div", {}, h("label", { for: "wb-show" }, w("show")), filter)),
        table(w("campaignsTable"), [w("colName"), w("colCState"), w("colOpen"), w("colTotal"), w("colRinging"),
          w("colTalking"), w("colMinute"), w("colAnswer"), w("colAbandon")], campaignBody,
        [false, false, true, true, true, true, true, true, true])),
      h("section", { "aria-labelledby": "wb-agents-h" }, h("h2", { id: "wb-agents-h" }, w("agents")), agentCards,
        table(w("agentsTable"), [w("colExtension"), w("colDevice"), w("colState"), w("colQueues")], agentBody, [])),
      lastEvent);

    // ---- drawing (every number on the page is derived from the three maps and the link)
    const set = (id, value) => {
      const node = document.getElementById(id);
      if (node && node.textContent !== String(value)) node.textContent = String(value);
    };

    function drawAgents() {
      const counts = Object.fromEntries(AGENT_STATES.map((s) => [s, 0]));
      for (const a of agents.values()) counts[a.state] += 1;
      for (const s of AGENT_STATES) set("wb-agents-" + s, counts[s]);
      const rows = [...agents.values()].sort((a, b) => (a.extension || "~" + a.agent).localeCompare(b.extension || "~" + b.agent));
      agentBody.replaceChildren(...(rows.length ? rows.map((a) => h("tr", { "data-agent": a.agent, "data-state": a.state },
        h("th", { scope: "row" }, a.extension || "—"), h("td", {}, a.agent),
        h("td", {}, h("span", { class: "badge wb-" + a.state }, w(a.state))),
        h("td", {}, a.queues.join(", ") || "—"))) : [h("tr", {}, h("td", { colspan: 4 }, w("noAgents")))]));
    }

    function drawCalls() {
      let ringing = 0;
      let talking = 0;
      for (const c of calls.values()) { if (c.phase === "talking") talking += 1; else ringing += 1; }
      set("wb-calls-ringing", ringing);
      set("wb-calls-talking", talking);
      const name = (id) => (campaigns.get(id) && campaigns.get(id).name) || "#" + id;
      const rows = [...calls.values()].sort((a, b) => a.started_at.localeCompare(b.started_at));
      callBody.replaceChildren(...(rows.length ? rows.map((c) => h("tr", { "data-call": c.call_id, "data-phase": c.phase },
        h("td", {}, name(c.campaign_id)), h("th", { scope: "row" }, c.phone), h("td", {}, c.agent || "—"),
        h("td", {}, (PHASE[ui.lang()] || PHASE.en)[c.phase]), h("td", {}, ui.fmtTime(c.started_at))))
        : [h("tr", {}, h("td", { colspan: 5 }, w("noCalls")))]));
    }

    function drawCampaigns() {
      let perMinute = 0;
      const rows = [];
      for (const c of [...campaigns.values()].sort((a, b) => a.campaign_id - b.campaign_id)) {
        perMinute += c.originates_last_minute;
        if (!showAll && c.state === "closed" && !c.calls_ringing && !c.calls_talking && !c.recent) continue;
        const cell = (col, value) => h("td", { class: "num", "data-col": col }, value);
        rows.push(h("tr", { "data-campaign-id": c.campaign_id, "data-state": c.state },
          h("th", { scope: "row" }, h("a", { href: "#/campaigns/" + c.campaign_id }, c.name || "#" + c.campaign_id)),
          h("td", {}, h("span", { class: "badge state-" + c.state }, w("state_" + c.state))),
          cell("open", c.numbers_open), cell("total", c.numbers_total), cell("ringing", c.calls_ringing),
          cell("talking", c.calls_talking), cell("minute", c.originates_last_minute),
          cell("answer", fmtRate(c.answer_rate)),
          cell("abandon", w("abandonedOf", { n: c.abandoned, rate: fmtRate(c.abandon_rate) }))));
      }
      set("wb-originates", perMinute);
      campaignBody.replaceChildren(...(rows.length ? rows : [h("tr", {}, h("td", { colspan: 9 }, w("noCampaigns")))]));
    }

    function drawLink() {
      if (!link) return;
      const since = ui.fmtTime(link.since);
      let text = !link.dialing ? w("pbx_off") : link.connected ? w("pbx_up", { since })
        : w("pbx_down", { state: link.state, since });
      if (link.dialing && !link.connected && link.last_error) text += "; " + w("last_error", { error: link.last_error });
      pbxLine.textContent = text;
      pbxLine.dataset.connected = String(link.connected);
    }

    // ---- reading and following
    async function readAll() {
      const [summary, agentList, callList] = await Promise.all(
        [ui.api.get("/live"), ui.api.get("/live/agents"), ui.api.get("/live/calls")]);
      const lines = await readCampaigns();
      link = summary.pbx_link;
      agents.clear();
      for (const a of agentList.items) agents.set(a.agent, a);
      calls.clear();
      for (const c of callList.items) calls.set(c.call_id, c);
      campaigns.clear();
      for (const c of lines) campaigns.set(c.campaign_id, c);
      drawLink(); drawAgents(); drawCalls(); drawCampaigns();
      return summary.event_id; // the earliest of the reads: events after it are applied again, harmlessly
    }

    async function readCampaigns() {
      const items = [];
      let cursor = null;
      do {
        const query = "/live/campaigns?limit=200" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "");
        const page = await ui.api.get(query);
        items.push(...page.items);
        cursor = page.next_cursor;
      } while (cursor && items.length < 2000);
      return items;
    }

    function reread() { // coalesced: a burst of "read again" events is one read
      if (rereading) return;
      rereading = setTimeout(async () => {
        try {
          const lines = await readCampaigns();
          const known = new Set(lines.map((c) => c.campaign_id));
          for (const id of [...campaigns.keys()]) if (!known.has(id)) campaigns.delete(id);
          for (const c of lines) campaigns.set(c.campaign_id, c);
          drawCampaigns();
        } catch (e) { /* the next event tries again */ }
        rereading = null;
      }, 150);
    }

    function follow(after) {
      source = new EventSource(API + "/events?after=" + encodeURIComponent(after), { withCredentials: true });
      const on = (kind, apply) => source.addEventListener(kind, (e) => {
        apply(e.data ? JSON.parse(e.data) : {});
        lastEvent.textContent = w("lastEvent", { at: new Date().toLocaleTimeString(ui.lang() === "ru" ? "ru-RU" : "en-GB") });
      });
      source.onopen = () => { liveNote.textContent = w("live_on"); liveNote.dataset.live = "on"; };
      source.onerror = () => { liveNote.textContent = w("live_off"); liveNote.dataset.live = "off"; };
      on("agent", (a) => { agents.set(a.agent, a); drawAgents(); });
      on("agent_gone", (d) => { agents.delete(d.agent); drawAgents(); });
      on("agents", (d) => { agents.clear(); for (const a of d.items) agents.set(a.agent, a); drawAgents(); });
      on("call", (c) => { if (c.ended) calls.delete(c.call_id); else calls.set(c.call_id, c); drawCalls(); });
      on("number", () => {}); // the campaign's line follows with the counts
      on("campaign", (c) => { campaigns.set(c.campaign_id, { ...c, recent: true }); drawCampaigns(); });
      on("campaign_gone", (d) => { campaigns.delete(d.campaign_id); drawCampaigns(); });
      on("campaigns", () => reread());
      on("pbx_link", (l) => { link = l; drawLink(); });
      on("resync", async () => { try { await readAll(); } catch (e) { /* reconnect tries again */ } });
    }

    const onHash = () => { if (location.hash !== "#/wallboard") leave(); };
    leave = () => {
      left = true;
      leave = null;
      if (source) source.close();
      if (rereading) clearTimeout(rereading);
      window.removeEventListener("hashchange", onHash);
    };
    window.addEventListener("hashchange", onHash);
    readAll().then((after) => { if (!left) follow(after); }, (e) => { if (e.status !== 401) ui.showError(liveNote, e); });
  }

  window.CONSOLE_PAGES = window.CONSOLE_PAGES || [];
  window.CONSOLE_PAGES.push((kit) => ({
    nav: [{ href: "#/wallboard", label: "navWallboard" }],
    routes: [[/^#\/wallboard$/, () => render(kit)]],
  }));
})();
