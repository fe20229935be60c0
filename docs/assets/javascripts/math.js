// Typeset every formula on the page with the KaTeX shipped in assets/katex (no internet needed):
// \( \) and \[ \] from pymdownx.arithmatex on the pages, $ and $$ in the notebooks' text.
// A formula KaTeX cannot read is shown in red with class katex-error (the suite looks for it).
document.addEventListener("DOMContentLoaded", function () {
  renderMathInElement(document.body, {
    delimiters: [
      { left: "$$", right: "$$", display: true },
      { left: "\\[", right: "\\]", display: true },
      { left: "\\(", right: "\\)", display: false },
      { left: "$", right: "$", display: false },
    ],
    ignoredTags: ["script", "noscript", "style", "textarea", "pre", "code", "option"],
    throwOnError: false,
  });
  document.body.setAttribute("data-math", "typeset");
});
