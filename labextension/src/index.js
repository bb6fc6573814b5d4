// ipywidgets 8 draws a slider with noUiSlider: the handle that takes the keyboard focus has
// role="slider" but no accessible name (its <label class="widget-label"> is a sibling, tied to
// nothing), so a screen reader announces "slider, 0.1" and never "loss". This plugin names every
// handle after its widget's description, in JupyterLab and in Notebook 7 alike, as panels appear
// or change. Nothing else is touched.

function nameSliders(root) {
  for (const slider of root.querySelectorAll('.widget-slider')) {
    const label = slider.querySelector('.widget-label');
    const name = label ? label.textContent.trim() : '';
    if (!name) {
      continue;
    }
    for (const handle of slider.querySelectorAll('[role="slider"]')) {
      if (handle.getAttribute('aria-label') !== name) {
        handle.setAttribute('aria-label', name);
      }
    }
  }
}

const plugin = {
  id: 'delivery-semantics-slider-names:plugin',
  description: 'Gives every ipywidgets slider handle its description as accessible name.',
  autoStart: true,
  activate: () => {
    let pending = false;
    const observer = new MutationObserver(() => {
      if (!pending) {
        pending = true; // one pass per animation frame, however many nodes changed
        requestAnimationFrame(() => {
          pending = false;
          nameSliders(document.body);
        });
      }
    });
    observer.observe(document.body, { childList: true, subtree: true, characterData: true });
    nameSliders(document.body);
  }
};

module.exports = plugin;
