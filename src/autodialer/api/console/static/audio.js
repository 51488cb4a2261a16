"use strict";
// The audio prompt library in the console: upload (multipart to POST /api/v2/audio, converted by the server as v1's
// upload is), play (the wav Asterisk plays) and delete (refused, with the polls named, while a poll plays it).
// Registers its page with console.js through window.CONSOLE_PAGES.
(function () {
  Object.assign(window.CONSOLE_I18N.en, {
    navAudio: "Audio prompts", audioTitle: "Audio prompts", audioFile: "Audio file (wav, mp3, ogg …)",
    upload: "Upload", uploading: "Uploading and converting…", uploaded: "Uploaded “{name}”.",
    chooseAudio: "Choose an audio file first.", noAudioFiles: "No prompts yet.", colDuration: "Length, s",
    colFormat: "Format", colPlay: "Listen", playerOf: "Play “{name}”", confirmDeleteAudio: "Delete prompt “{name}”?",
    audioDeleted: "Prompt deleted.",
  });
  Object.assign(window.CONSOLE_I18N.ru, {
    navAudio: "Записи", audioTitle: "Записи для опросов", audioFile: "Звуковой файл (wav, mp3, ogg …)",
    upload: "Загрузить", uploading: "Загрузка и преобразование…", uploaded: "Загружено: «{name}».",
    chooseAudio: "Сначала выберите звуковой файл.", noAudioFiles: "Записей пока нет.", colDuration: "Длина, с",
    colFormat: "Формат", colPlay: "Прослушать", playerOf: "Прослушать «{name}»",
    confirmDeleteAudio: "Удалить запись «{name}»?", audioDeleted: "Запись удалена.",
  });

  window.CONSOLE_PAGES = window.CONSOLE_PAGES || [];
  window.CONSOLE_PAGES.push(function (kit) {
    const { h, t, api, page, field, table, announce, showError } = kit;

    async function upload(file) {
      const form = new FormData();
      form.append("file", file, file.name);
      const response = await fetch(kit.API + "/audio", {
        method: "POST", body: form, credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRF-Token": kit.csrfToken() },
      });
      let data = null;
      try { data = await response.json(); } catch (e) { data = null; }
      if (!response.ok) throw new kit.ApiError(response.status, data, response.headers);
      return data;
    }

    async function libraryPage() {
      const status = h("p", { role: "status", id: "audio-status" });
      const errors = h("div", { id: "audio-errors" });
      const fileInput = h("input", { type: "file", accept: "audio/*", name: "file" });
      const body = h("tbody");
      const form = h("form", { class: "filters", novalidate: true },
        h("div", {}, ...field("audio-file", t("audioFile"), fileInput)),
        h("button", { type: "submit", class: "primary" }, t("upload")));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const file = fileInput.files && fileInput.files[0];
        if (!file) { status.textContent = t("chooseAudio"); return; }
        status.textContent = t("uploading");
        errors.replaceChildren();
        try {
          const stored = await upload(file);
          status.textContent = t("uploaded", { name: stored.name });
          fileInput.value = "";
        } catch (e) { status.textContent = ""; showError(errors, e); return; }
        await refresh();
      });

      async function refresh() {
        let found;
        try { found = await api.get("/audio"); } catch (e) { return showError(errors, e); }
        body.replaceChildren();
        if (!found.items.length) body.append(h("tr", {}, h("td", { colspan: 5 }, t("noAudioFiles"))));
        for (const a of found.items) {
          const player = h("audio", { controls: true, preload: "none", src: kit.API + "/audio/" + a.id + "/file",
            "aria-label": t("playerOf", { name: a.name }) });
          const remove = h("button", { type: "button", class: "danger", "aria-label": t("del") + " " + a.name }, t("del"));
          remove.addEventListener("click", async () => {
            if (!confirm(t("confirmDeleteAudio", { name: a.name }))) return;
            try { await api.del("/audio/" + a.id); } catch (e) { return showError(errors, e); }
            errors.replaceChildren();
            announce(t("audioDeleted"));
            status.textContent = t("audioDeleted");
            await refresh();
          });
          body.append(h("tr", { "data-name": a.name }, h("th", { scope: "row" }, a.name),
            h("td", {}, a.format || "—"),
            h("td", { class: "num" }, a.duration_s === null ? "—" : a.duration_s.toFixed(1)),
            h("td", {}, player), h("td", {}, remove)));
        }
      }

      page(t("audioTitle"), form, status, errors,
        table(t("audioTitle"), [t("colName"), t("colFormat"), t("colDuration"), t("colPlay"), t("colActions")], body,
          [false, false, true, false, false]));
      await refresh();
    }

    return { nav: [{ href: "#/audio", label: "navAudio" }], routes: [[/^#\/audio$/, libraryPage]] };
  });
})();
