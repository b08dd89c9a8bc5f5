/*
 * Files in the owner's chat (docs/protocol.md, "Files"): the paper clip and drag-and-drop
 * send them over HTTP (session + CSRF); the transcript shows images inline and other files
 * as a link. A refused file says why in the notice and leaves the draft alone.
 */
import { replyContext } from "./composer.js";
import { els, h, root } from "./dom.js";
import { newClientId } from "./format.js";
import { csrfToken } from "./http.js";
import { showNotice } from "./notice.js";
import { render } from "./render.js";
import { state } from "./state.js";
import { storeMessages } from "./transcript.js";

const $ = (id) => document.getElementById(id);

let uploading = 0;

const sizeText = (n) => (n < 1024 ? `${n} B` : n < 1048576 ? `${Math.round(n / 1024)} KB` : `${(n / 1048576).toFixed(1)} MB`);

/** What a message's file looks like in the transcript; names only ever go in as text. */
export function fileNode(attachment) {
  if (!attachment.url) {
    return h("span", { className: "msg-file" }, interpolate(gettext("%(name)s (no longer available)"), { name: attachment.name }, true));
  }
  const link = h("a", { className: "msg-file", href: attachment.url, target: "_blank", rel: "noopener noreferrer" });
  if (attachment.is_image) link.append(h("img", { className: "msg-file-img", src: attachment.url, alt: attachment.name }));
  else link.append(`\u{1F4CE} ${attachment.name} `, h("small", { className: "muted" }, `(${sizeText(attachment.size)})`));
  return link;
}

function showUploading() {
  const status = $("attach-status");
  const text = ngettext("Uploading %(count)s file…", "Uploading %(count)s files…", uploading);
  status.textContent = uploading ? interpolate(text, { count: uploading }, true) : "";
}

async function sendFile(file) {
  const ctx = replyContext();
  if (!ctx) return showNotice(gettext("Claim this chat before sending files."));
  if (ctx.c.mode === "note") return showNotice(gettext("Files go to the customer; switch to Reply to send one."));
  const data = new FormData();
  data.append("file", file);
  data.append("client_id", newClientId());
  const url = root.dataset.attachmentUrl.replace("/0/attachments", `/${ctx.id}/attachments`);
  uploading += 1;
  showUploading();
  let response = null;
  let answer = {};
  try {
    response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      cache: "no-store",
      headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
      body: data,
    });
    answer = await response.json().catch(() => ({}));
  } catch {
    response = null;
  }
  uploading -= 1;
  showUploading();
  if (!response || !response.ok) {
    let reason = (answer.error && answer.error.message) || gettext("Not connected; try again in a moment.");
    if (response && !answer.error && response.status === 403) reason = gettext("Your session has expired: reload the console and log in again.");
    // A proxy in front may refuse a large body itself, without our JSON.
    if (response && !answer.error && response.status === 413) reason = gettext("The file is too large.");
    showNotice(interpolate(gettext("%(name)s was not sent: %(reason)s"), { name: file.name, reason }, true));
    return;
  }
  // Its message.new may come before or after this answer: stored once per seq.
  storeMessages(ctx.id, [answer.message]);
  if (state.openId === ctx.id) state.scrollToEnd = true;
  render();
}

/** The paper clip, its file input, and dropping files on the transcript or the composer. */
export function wireAttachments() {
  const input = $("attach-input");
  $("attach-open").addEventListener("click", () => input.click());
  input.addEventListener("change", () => {
    [...input.files].forEach(sendFile);
    input.value = "";
  });
  const hasFiles = (event) => event.dataTransfer && [...event.dataTransfer.types].includes("Files") && replyContext();
  for (const zone of [els.transcript, els.composer]) {
    zone.addEventListener("dragover", (event) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      zone.classList.add("is-dropping");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("is-dropping"));
    zone.addEventListener("drop", (event) => {
      zone.classList.remove("is-dropping");
      if (!hasFiles(event)) return;
      event.preventDefault();
      [...event.dataTransfer.files].forEach(sendFile);
    });
  }
}
