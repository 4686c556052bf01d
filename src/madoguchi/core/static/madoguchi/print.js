// The print button of a print view: shown only where JavaScript runs (without it the page says
// to use the browser's own print command).
document.querySelectorAll("[data-print]").forEach((button) => {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
});
