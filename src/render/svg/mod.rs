//! A small SVG charting kit written for these reports: [`scale`] maps
//! values to positions with readable ticks, [`plot`] draws one chart.
//! (No plotting crate: see `render/mod.rs` for why.)

pub(crate) mod plot;
pub(crate) mod scale;

pub(crate) use plot::{Plot, Swatch};
pub(crate) use scale::Axis;
