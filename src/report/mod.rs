//! Reports: tables, CSV/JSON, PNG heatmaps, SVG plots, a self-contained HTML page.
//! A leaf: it only formats numbers it is handed.
