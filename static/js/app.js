/* Small behaviours the pages share (no inline script: the CSP allows only files from this site). */
(function () {
  "use strict";

  // R-UX-2: a refused form scrolls to its first error and puts the cursor in that field.
  function focusFirstError(root) {
    var field = root.querySelector('[aria-invalid="true"]');
    var message = root.querySelector('.field-error, .weui-cell_warn, .app-notice_warn[role="alert"]');
    var target = field || message;
    if (!target) return;
    var box = target.closest(".weui-cell, .app-card, .app-notice") || target;
    box.scrollIntoView({ block: "center" });
    if (field && typeof field.focus === "function") field.focus({ preventScroll: true });
  }

  // The in-page confirmation under 作废 (ui.html void_form): 取消 folds it away again.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-close-details]");
    if (!button) return;
    var details = button.closest("details");
    if (details) {
      details.open = false;
      var summary = details.querySelector("summary");
      if (summary) summary.focus();
    }
  });

  // 开具缴费记录: 费款合计 follows the ticked records (display only; the server sums them again, R-MO-2).
  document.addEventListener("change", function (event) {
    var form = event.target.closest && event.target.closest("form[data-live-total]");
    var out = form && form.querySelector("[data-total]");
    if (!out) return;
    var fen = 0;
    form.querySelectorAll("input[data-fen]:checked").forEach(function (box) { fen += parseInt(box.dataset.fen, 10) || 0; });
    var yuan = String(Math.floor(fen / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    out.textContent = "¥" + yuan + "." + String(fen % 100).padStart(2, "0");
  });

  // 社会保险费缴费证明 (certificates/view.html): 放大查看 shows the pages at full size, each in a box that scrolls;
  // the button says what it will do next and aria-pressed says which size is on.
  function showZoomToggles(root) {
    root.querySelectorAll("[data-zoom-toggle][hidden]").forEach(function (b) { b.hidden = false; });
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-zoom-toggle]");
    if (!button) return;
    var pages = document.getElementById(button.getAttribute("data-zoom-toggle"));
    if (!pages) return;
    var zoomed = pages.classList.toggle("is-zoomed");
    var label = button.getAttribute("data-zoomed-label");
    button.setAttribute("data-zoomed-label", button.textContent);
    button.textContent = label;
    button.setAttribute("aria-pressed", zoomed ? "true" : "false");
  });

  document.addEventListener("DOMContentLoaded", function () { focusFirstError(document); showZoomToggles(document); });
  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.detail && event.detail.target && event.detail.target.querySelectorAll) showZoomToggles(event.detail.target);
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail && event.detail.target;
    if (target && target.querySelector && event.detail.xhr && event.detail.xhr.status === 422) focusFirstError(target);
  });
})();
