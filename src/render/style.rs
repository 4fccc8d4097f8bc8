//! The page's one stylesheet: layout, tables, the verdict badge and the
//! chart palette as CSS custom properties, with a dark variant under
//! `prefers-color-scheme: dark`. Chart marks only name classes (`c0`..`c7`,
//! `cok`, `cbad`, `cwarn`, `cmiss`, `cmuted`), so both schemes share one SVG.

/// The stylesheet, inlined in the page's `<style>`.
pub(crate) const CSS: &str = r#"
:root{color-scheme:light dark;--bg:#ffffff;--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--grid:#e8ecf0;--axis:#8c959f;--card:#f6f8fa;
--p0:#2f6fdb;--p1:#e8710a;--p2:#12939a;--p3:#8e44ad;--p4:#d6336c;--p5:#a07d00;--p6:#1a9cd8;--p7:#7a6a5a;
--ok:#1a7f37;--bad:#cf222e;--warn:#bf8700;--miss:#f4a3a8;--neutral:#8c959f;--band:rgba(47,111,219,.10)}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--line:#3d444d;--grid:#21262d;--axis:#656c76;--card:#151b23;
--p0:#5b9bff;--p1:#ff9a3d;--p2:#2ec4b6;--p3:#c08cf0;--p4:#ff6b9a;--p5:#e0c040;--p6:#56c8ff;--p7:#b8a898;
--ok:#3fb950;--bad:#ff6b6b;--warn:#e3b341;--miss:#8a3b40;--neutral:#7d8590;--band:rgba(91,155,255,.14)}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1000px;margin:0 auto;padding:24px 20px 48px}
h1{font-size:26px;margin:0 0 4px;display:flex;gap:12px;align-items:center;flex-wrap:wrap}
h2{font-size:19px;margin:32px 0 10px;padding-bottom:4px;border-bottom:1px solid var(--line)}
h3{font-size:16px;margin:0 0 2px}h4.tt{font-size:14px;margin:18px 0 2px;color:var(--muted);font-weight:600}
.target{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px;word-break:break-all;margin:4px 0}
.meta,.caption,.more{color:var(--muted);font-size:13px;margin:2px 0}
.badge{font-size:14px;font-weight:700;letter-spacing:.06em;padding:3px 12px;border-radius:999px;color:#fff}
.badge.small{font-size:11px;padding:1px 8px;vertical-align:middle}
.badge.pass{background:var(--ok)}.badge.fail{background:var(--bad)}.badge.error,.badge.other{background:var(--warn);color:#1f2328}
table{border-collapse:collapse;width:100%;font-size:14px;margin:6px 0}table.kv{width:auto;min-width:55%}
th,td{border-bottom:1px solid var(--line);padding:5px 8px;text-align:left;vertical-align:top}
th{color:var(--muted);font-weight:600}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.mark{width:1.5em;font-weight:700}.yes{color:var(--ok)}.no{color:var(--bad)}
td code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px;word-break:break-all}
ul{margin:6px 0;padding-left:22px}li{margin:3px 0}
.errbox{border-left:4px solid var(--bad);background:var(--card);padding:8px 12px}
.warnings li{color:var(--warn)}
figure{margin:18px 0 26px;padding:14px 14px 8px;background:var(--card);border:1px solid var(--line);border-radius:8px}
svg.chart{display:block;width:100%;height:auto;margin-top:6px;font:12px system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif}
details{margin:10px 0;border:1px solid var(--line);border-radius:8px;padding:6px 12px}
summary{cursor:pointer;font-weight:600}
footer{margin-top:40px;color:var(--muted);font-size:12px}
.chart text{fill:var(--muted)}.chart .lbl{fill:var(--fg)}.chart .lg{fill:var(--fg)}.chart .note{fill:var(--fg);font-size:11px}
.chart .mid{text-anchor:middle}.chart .end{text-anchor:end}
.chart .grid{stroke:var(--grid);stroke-width:1}.chart .ax{stroke:var(--axis);fill:none;stroke-width:1}
.chart .ln{fill:none;stroke:var(--k);stroke-width:2;stroke-linejoin:round}
.chart .ref{fill:none;stroke:var(--k);stroke-width:1.5;stroke-dasharray:5 4}
.chart .ar{fill:var(--k);opacity:.16;stroke:none}
.chart .bar,.chart .sw,.chart .dot{fill:var(--k)}
.chart .ring{fill:var(--bg);stroke:var(--k);stroke-width:2}
.chart .band{fill:var(--band)}
.chart .bar:hover,.chart .dot:hover,.chart .ring:hover{opacity:.7}
.c0{--k:var(--p0)}.c1{--k:var(--p1)}.c2{--k:var(--p2)}.c3{--k:var(--p3)}.c4{--k:var(--p4)}.c5{--k:var(--p5)}.c6{--k:var(--p6)}.c7{--k:var(--p7)}
.cok{--k:var(--ok)}.cbad{--k:var(--bad)}.cwarn{--k:var(--warn)}.cmiss{--k:var(--miss)}.cmuted{--k:var(--neutral)}
@media print{figure{break-inside:avoid}}
"#;
