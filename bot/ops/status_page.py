"""The read-only status page: one self-contained HTML file (no external assets) that polls
/api/status every two seconds and redraws its tables."""

from __future__ import annotations

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ibbot status</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<style>
body{font:14px system-ui,sans-serif;margin:1.2em;color:#222;background:#fafafa}
h1{font-size:20px;margin:0 0 .3em} h2{font-size:15px;margin:1.2em 0 .3em}
table{border-collapse:collapse;background:#fff;min-width:30em}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left} th{background:#f0f0f0}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#176f2c;font-weight:600} .bad{color:#b00020;font-weight:600}
pre{background:#111;color:#ddd;padding:8px;max-height:22em;overflow:auto;font-size:12px}
#meta{color:#555}
</style></head><body>
<h1>ibbot <span id="health"></span></h1>
<div id="meta">loading...</div>
<h2>Connection</h2><div id="connection"></div><div id="farms"></div>
<h2>Strategies</h2><div id="strategies"></div>
<h2>Risk</h2><div id="risk"></div>
<h2>Positions</h2><div id="positions"></div>
<h2>Working orders</h2><div id="working_orders"></div>
<h2>Today's fills</h2><div id="fills_today"></div>
<h2>Feeds</h2><div id="feeds"></div>
<h2>Last log lines</h2><pre id="log"></pre>
<script>
"use strict";
const ENT={"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"};
function esc(v){return String(v).replace(/[&<>"]/g,c=>ENT[c]);}
function cell(v){
  if(v===null||v===undefined)return "<td></td>";
  if(typeof v==="number")return '<td class="num">'+esc(Number.isInteger(v)?v:v.toFixed(2))+"</td>";
  return "<td>"+esc(v)+"</td>";
}
function table(id,rows,cols){
  const el=document.getElementById(id);
  if(!rows.length){el.innerHTML="<i>none</i>";return;}
  el.innerHTML="<table><tr>"+cols.map(c=>"<th>"+esc(c)+"</th>").join("")+"</tr>"+
    rows.map(r=>"<tr>"+cols.map(c=>cell(r[c])).join("")+"</tr>").join("")+"</table>";
}
function draw(s){
  const h=document.getElementById("health");
  h.textContent=s.health.status==="ok"?"healthy":"unhealthy: "+s.health.reasons.join("; ");
  h.className=s.health.status==="ok"?"ok":"bad";
  const c=s.connection;
  document.getElementById("meta").textContent="account "+s.account+" ("+s.mode+
    (s.dry_run?", dry run":"")+") | market time "+s.market_time+" | updated "+
    new Date().toLocaleTimeString();
  const el=document.getElementById("connection");
  el.textContent="IB "+c.state+" since "+c.since+" ("+c.why+"), reconnects "+c.reconnects;
  el.className=c.state==="connected"?"ok":"bad";
  const farms=Object.entries(c.farms).map(([k,v])=>({farm:k,state:v}));
  if(farms.length)table("farms",farms,["farm","state"]);
  else document.getElementById("farms").textContent="data farms: no notice from IB yet";
  table("strategies",s.strategies,["id","enabled","risk","bars","fills","rejections","pnl_today","pnl_total"]);
  table("risk",Object.entries(s.risk).map(([k,v])=>({scope:k,state:v.state,reason:v.reason})),["scope","state","reason"]);
  table("positions",s.positions,["strategy","symbol","quantity"]);
  table("working_orders",s.working_orders,["strategy","symbol","tag","side","quantity","type","limit","stop","filled","status"]);
  table("fills_today",s.fills_today,["time","strategy_id","symbol","side","quantity","price","commission","tag"]);
  table("feeds",s.feeds,["subscription","age_s","limit_s","liquid","stale"]);
  document.getElementById("log").textContent=s.log.join("\\n");
}
async function poll(){
  try{const r=await fetch("/api/status",{cache:"no-store"});draw(await r.json());}
  catch(e){
    const h=document.getElementById("health");
    h.textContent="daemon unreachable";h.className="bad";
  }
  setTimeout(poll,2000);
}
poll();
</script></body></html>
"""
