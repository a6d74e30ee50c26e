//! `cowix report TRACE -o out.html`: one self-contained HTML page (inline
//! CSS, JS and SVG; nothing fetched) drawn from a `--trace` file
//! (docs/trace.md): each process's address space as a strip of pages
//! coloured by state, lines between processes sharing frames, and a
//! timeline of faults by kind with a scrubber that replays the strips to
//! any point (states rebuilt in the page from the last snapshot before
//! that point plus the faults after it).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

/// Exit status for bad input (missing file, not a trace, bad JSON).
const EXIT_BAD_INPUT: u8 = 2;

/// Reads and checks the trace: its records, or the one-line reason it is
/// not a usable trace.
pub fn read_trace(path: &Path) -> Result<Vec<Value>, String> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let mut records = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let record: Value = serde_json::from_str(line)
            .map_err(|e| format!("{shown}:{}: not a JSON record (truncated?): {e}", i + 1))?;
        if i == 0 && (record["ev"] != "trace" || !record["version"].is_u64()) {
            return Err(format!(
                "{shown} is not a cowix trace (its first line is not the \"trace\" header)"
            ));
        }
        if i > 0 && !record["ev"].is_string() {
            return Err(format!("{shown}:{}: a record without \"ev\"", i + 1));
        }
        records.push(record);
    }
    match records.first() {
        None => Err(format!("{shown} is empty, not a cowix trace")),
        Some(h) if h["version"] != 1 => Err(format!(
            "{shown}: trace version {} is not supported (this cowix reads version 1)",
            h["version"]
        )),
        Some(_) => Ok(records),
    }
}

/// The HTML page for `records`.
pub fn render(records: &[Value], title: &str) -> String {
    let pids: BTreeSet<i64> = records
        .iter()
        .filter(|r| r["ev"] == "snapshot" || r["ev"] == "fault" || r["ev"] == "exec")
        .filter_map(|r| r["pid"].as_i64())
        .filter(|&p| p > 0)
        .collect();
    let faults = records.iter().filter(|r| r["ev"] == "fault").count();
    let truncated = records.iter().any(|r| r["ev"] == "truncated");
    // The scrubber starts just before the first exit: every process that
    // was forked by then is still drawn with its sharing.
    let start = records
        .iter()
        .position(|r| r["ev"] == "exit")
        .map_or(records.len().saturating_sub(1), |i| i.saturating_sub(1));
    let data = serde_json::to_string(records)
        .expect("trace records serialize")
        .replace("</", "<\\/");
    let mut strips = String::new();
    for pid in &pids {
        let _ = write!(
            strips,
            r#"<div class="strip" data-pid="{pid}"><span class="label">pid {pid}</span><svg class="pages" width="1000" height="22"></svg></div>"#
        );
    }
    let title = html_escape(title);
    let mut page = String::from(HTML_TEMPLATE);
    for (key, value) in [
        ("{{TITLE}}", title.as_str()),
        ("{{STRIPS}}", strips.as_str()),
        ("{{PROCS}}", &pids.len().to_string()),
        ("{{FAULTS}}", &faults.to_string()),
        ("{{MAX}}", &records.len().saturating_sub(1).to_string()),
        (
            "{{TRUNC}}",
            if truncated {
                " (truncated by --trace-limit)"
            } else {
                ""
            },
        ),
        ("{{START}}", &start.to_string()),
        ("{{DATA}}", data.as_str()),
    ] {
        page = page.replace(key, value);
    }
    page
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `cowix report`: 0, or 2 with one error line on stderr.
pub fn main(trace: &Path, out: &Path) -> u8 {
    let records = match read_trace(trace) {
        Ok(r) => r,
        Err(why) => {
            eprintln!("cowix report: {why}");
            return EXIT_BAD_INPUT;
        }
    };
    let html = render(&records, &trace.display().to_string());
    if let Err(e) = std::fs::write(out, html) {
        eprintln!("cowix report: cannot write {}: {e}", out.display());
        return EXIT_BAD_INPUT;
    }
    0
}

const HTML_TEMPLATE: &str = r##"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>cowix report: {{TITLE}}</title>
<style>
body{font:14px/1.4 sans-serif;margin:16px;background:#fafafa;color:#222}
h1{font-size:18px;margin:0 0 4px}
.legend span{display:inline-block;margin-right:14px}
.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:middle;border:1px solid #888}
#strips{position:relative;margin-top:8px}
.strip{display:flex;align-items:center;height:34px}
.strip.gone{opacity:.35}
.label{width:70px;font-family:monospace}
#links{position:absolute;left:70px;top:0;pointer-events:none}
#timeline{margin-top:14px;background:#fff;border:1px solid #ccc}
#scrubber{width:1000px;margin-left:0}
#now{font-family:monospace}
</style></head>
<body>
<h1>cowix memory report</h1>
<div>{{TITLE}}: {{PROCS}} processes, {{FAULTS}} faults{{TRUNC}}</div>
<div class="legend">
<span><i style="background:#4a90d9"></i>private</span>
<span><i style="background:#e8893b"></i>COW-shared (darker: more sharers)</span>
<span><i style="background:#ddd"></i>zero frame</span>
<span><i style="background:#5cb85c"></i>file-backed</span>
<span><i style="background:#9b59b6"></i>swapped</span>
<span>lines: frames shared between processes</span>
</div>
<div id="strips">{{STRIPS}}<svg id="links" width="1000" height="0"></svg></div>
<svg id="timeline" width="1000" height="140"></svg>
<div><input type="range" id="scrubber" min="0" max="{{MAX}}" value="{{START}}"></div>
<div id="now"></div>
<script id="trace-data" type="application/json">{{DATA}}</script>
<script>
"use strict";
const R = JSON.parse(document.getElementById("trace-data").textContent);
const NS = "http://www.w3.org/2000/svg";
const W = 1000, PAGE = 4096;
const KINDS = ["zero_page","zero_fill","cow_copy","cow_reuse","file","file_cow","shared_write","swap_in","spurious"];
const KCOL = {zero_page:"#bbb",zero_fill:"#4a90d9",cow_copy:"#e8893b",cow_reuse:"#f3c98b",file:"#5cb85c",file_cow:"#2e7d32",shared_write:"#8bc34a",swap_in:"#9b59b6",spurious:"#999"};
function el(tag, attrs){const e=document.createElementNS(NS,tag);for(const k in attrs)e.setAttribute(k,attrs[k]);return e;}
function colour(p){
  switch(p.state){
    case "private": return "#4a90d9";
    case "cow": {const l=Math.max(30,70-8*(p.refs-2));return "hsl(28,80%,"+l+"%)";}
    case "zero": return "#ddd";
    case "file": return "#5cb85c";
    case "swap": return "#9b59b6";
  }
  return "#fff";
}
function stateOfFault(f){
  if(f.kind==="zero_page") return {state:"zero",frame:0,refs:f.refs};
  if(f.kind==="file"||f.kind==="shared_write") return {state:"file",frame:f.frame,refs:f.refs};
  if(f.frame===null) return null;
  return {state:f.refs>1?"cow":"private",frame:f.frame,refs:f.refs};
}
// The pages of every process at record index t.
// Each frame's refcount as last seen: a copy-on-write copy in one process
// lowers the count its sharers see, an exit lowers it for every page.
function statesAt(t){
  const procs=new Map(), refs=new Map();
  for(let i=0;i<=t&&i<R.length;i++){
    const r=R[i];
    if(r.ev==="snapshot"){
      const m=new Map();
      for(const [start,count,state,frame,n] of r.runs)
        for(let k=0;k<count;k++){
          const f=state==="zero"?0:frame+k;
          m.set(start+k*PAGE,{state,frame:f,refs:n});
          if(state!=="swap") refs.set(f,r.why==="exit"?n-1:n);
        }
      procs.set(r.pid,{pages:m,gone:r.why==="exit"});
    } else if(r.ev==="fault"){
      if(r.frame_before!==null&&r.frame_before!==r.frame) refs.set(r.frame_before,r.refs_before-1);
      if(r.frame!==null) refs.set(r.frame,r.refs);
      const s=stateOfFault(r), a=Math.floor(r.addr/PAGE)*PAGE;
      if(s&&procs.has(r.pid)) procs.get(r.pid).pages.set(a,s);
    } else if(r.ev==="exit"&&procs.has(r.pid)){
      procs.get(r.pid).gone=true;
    }
  }
  for(const p of procs.values())
    for(const pg of p.pages.values())
      if(pg.state==="cow"||pg.state==="private"){
        pg.refs=refs.has(pg.frame)?refs.get(pg.frame):pg.refs;
        pg.state=pg.refs>1?"cow":"private";
      }
  return procs;
}
function draw(t){
  const procs=statesAt(t);
  const all=new Set();
  for(const p of procs.values()) for(const a of p.pages.keys()) all.add(a);
  const addrs=[...all].sort((x,y)=>x-y);
  const col=new Map(addrs.map((a,i)=>[a,i]));
  const cw=addrs.length?Math.max(W/addrs.length,0.25):1;
  const strips=[...document.querySelectorAll(".strip")];
  const where=new Map();
  strips.forEach((s,row)=>{
    const pid=+s.dataset.pid, svg=s.querySelector("svg");
    svg.replaceChildren();
    const p=procs.get(pid);
    s.classList.toggle("gone",!p||p.gone);
    if(!p) return;
    for(const [a,pg] of p.pages){
      const x=col.get(a)*cw;
      svg.appendChild(el("rect",{x:x,y:2,width:Math.max(cw,0.5),height:18,fill:colour(pg),"data-state":pg.state}));
      if(pg.state!=="zero"&&pg.state!=="swap"&&!p.gone){
        const k=pg.frame; if(!where.has(k)) where.set(k,[]);
        where.get(k).push([row,x+cw/2]);
      }
    }
  });
  const links=document.getElementById("links");
  links.setAttribute("height",strips.length*34);
  links.replaceChildren();
  let n=0;
  for(const [,ps] of where){
    for(let i=1;i<ps.length&&n<600;i++,n++){
      const [r0,x0]=ps[i-1],[r1,x1]=ps[i];
      if(r0===r1) continue;
      links.appendChild(el("line",{x1:x0,y1:r0*34+28,x2:x1,y2:r1*34+6,stroke:"rgba(200,60,0,.35)","stroke-width":1}));
    }
  }
  const r=R[t]||{};
  document.getElementById("now").textContent="record "+t+" of "+(R.length-1)+(r.insn!==undefined?", instruction "+r.insn:"")+(r.ev?": "+r.ev+(r.kind?" "+r.kind:"")+(r.pid?" pid "+r.pid:""):"");
  const cur=document.getElementById("cursor");
  const x=R.length>1?t/(R.length-1)*W:0;
  cur.setAttribute("x1",x);cur.setAttribute("x2",x);
}
function timeline(){
  const svg=document.getElementById("timeline");
  const BINS=200, H=110, bins=[];
  for(let i=0;i<BINS;i++) bins.push({});
  R.forEach((r,i)=>{ if(r.ev!=="fault") return;
    const b=bins[Math.min(BINS-1,Math.floor(i/R.length*BINS))]; b[r.kind]=(b[r.kind]||0)+1; });
  let max=1; for(const b of bins){let s=0;for(const k in b)s+=b[k];max=Math.max(max,s);}
  bins.forEach((b,i)=>{ let y=H;
    for(const k of KINDS){ if(!b[k]) continue; const h=b[k]/max*(H-10);
      y-=h; svg.appendChild(el("rect",{x:i*W/BINS,y:y,width:W/BINS,height:h,fill:KCOL[k],class:"bar","data-kind":k})); } });
  let lx=4;
  for(const k of KINDS){ const t=el("text",{x:lx,y:H+22,"font-size":11,fill:KCOL[k]}); t.textContent=k; svg.appendChild(t); lx+=k.length*7+14; }
  svg.appendChild(el("line",{id:"cursor",x1:W,y1:0,x2:W,y2:H,stroke:"#000","stroke-width":1.5}));
}
timeline();
const sc=document.getElementById("scrubber");
sc.addEventListener("input",()=>draw(+sc.value));
draw(+sc.value);
</script>
</body></html>
"##;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_end_their_script_safely() {
        let records: Vec<Value> = vec![
            serde_json::json!({"seq":0,"ev":"trace","version":1}),
            serde_json::json!({"seq":1,"ev":"exec","pid":1,"path":"</script><b>"}),
        ];
        let html = render(&records, "t");
        assert!(!html.contains("</script><b>"));
        assert_eq!(html.matches(r#"class="strip""#).count(), 1);
    }
}
