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

  document.addEventListener("DOMContentLoaded", function () { focusFirstError(document); });
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail && event.detail.target;
    if (target && target.querySelector && event.detail.xhr && event.detail.xhr.status === 422) focusFirstError(target);
  });
})();
