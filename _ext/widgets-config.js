// Copied to _static/vendor/widgets/2-config.js by offline_assets.py. Where require.js finds the front ends of the widgets on this site: in the site's own _static/vendor,
// copied there at build time from pinned npm packages (_ext/offline_assets.py). With this, the Jupyter
// widget manager (embed-amd.js) loads anywidget locally and never falls back to a CDN, and it finds its
// own fonts next to itself (it locates them from its module path).
(function () {
  var here = document.currentScript ? document.currentScript.src : "";
  var base = here.replace(/widgets\/2-config\.js(\?.*)?$/, ""); // the site's _static/vendor/
  window.requirejs.config({
    paths: {
      anywidget: base + "anywidget/index",
      // The manager's bundles place their fonts next to where require.js thinks they live:
      "@jupyter-widgets/html-manager/dist": base + "html-manager",
      "@jupyter-widgets": base + "html-manager",
    },
  });
})();
