import { sha512 } from '/work/main/packages/core/node_modules/@noble/hashes/sha2.js';
import * as nc from 'node:crypto';
const key = new Uint8Array(33).fill(5);
function t(name, f, n=20){ f(); f(); const s=performance.now(); for(let i=0;i<n;i++) f(); console.log(name, ((performance.now()-s)/n).toFixed(2),'ms'); }
const buf=new Uint8Array(97); buf.set(key,64);
t('noble oneshot', ()=>{ for(let i=0;i<10400;i++){ const h=sha512(buf); buf.set(h,0);} });
const base = sha512.create(); const w = sha512.create(); const out = new Uint8Array(64);
t('noble clone reuse', ()=>{ for(let i=0;i<10400;i++){ base._cloneInto(w); w.update(buf); w.digestInto(out); buf.set(out,0);} });
t('node createHash', ()=>{ for(let i=0;i<10400;i++){ const h=nc.createHash('sha512').update(buf).digest(); buf.set(h,0);} });
t('node hash', ()=>{ for(let i=0;i<10400;i++){ const h=nc.hash('sha512',buf,'buffer'); buf.set(h,0);} });
