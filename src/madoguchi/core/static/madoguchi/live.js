/* Live forms (htmx): the server is the authority, this file holds no rule of a form.
 *
 * - Marks the page as scripted, so that the stylesheet hides the questions the server
 *   marked hidden by their rules (without JavaScript they stay, with the words of their rule).
 * - Leaves chosen files out of a live request (they are sent with the step).
 * - Tells the server which field the resident just changed, and whether they are still
 *   typing, so that it answers with that field's message only (never of fields not touched).
 * Loaded in <head> without defer: the mark is set before the form is drawn.
 */
document.documentElement.classList.add("live-js");
document.addEventListener("htmx:configRequest", function (event) {
  var form = event.detail.elt.closest("form[data-live]");
  var trigger = event.detail.triggeringEvent;
  if (!form || event.detail.path !== form.getAttribute("data-live")) return;
  // Files are sent with 「次へ」 only: a live request never carries them (it checks, never stores).
  var data = event.detail.formData;
  if (data) {
    var files = [];
    data.forEach(function (value, name) { if (value instanceof File) files.push(name); });
    files.forEach(function (name) { data.delete(name); });
  }
  if (trigger && trigger.target && trigger.target.name) {
    event.detail.parameters["_live_touched"] = trigger.target.name;
    event.detail.parameters["_live_event"] = trigger.type;
  }
});
