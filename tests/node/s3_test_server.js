// The S3 endpoint the storage tests talk to: s3rver (which checks no signature) behind a proxy
// that recomputes every request's SigV4 with aws4, an implementation independent of ours,
// and answers 403 SignatureDoesNotMatch on any difference. So a signing bug fails a test here.
//
// Run as: node --openssl-legacy-provider s3_test_server.js [--tls-cert=PEM --tls-key=PEM]
//          DIR ACCESS_KEY SECRET REGION [TOKEN]
// (s3rver's continuation tokens use DES, which Node 20's OpenSSL 3 refuses without the flag).
// Prints one line {"port": N, "control_port": C} when the servers listen on 127.0.0.1, then
// serves until killed. Plain, N and C are one http port. With --tls-cert/--tls-key, N speaks
// only https with that certificate (the store as production reaches it), C stays plain http for
// the control surface (the tests' own client has no TLS), and presigned URLs are https://...:N.
//
// Paths under /__ are the tests' control surface (never signed, loopback only):
//   PUT  /__bucket/NAME                     create a bucket
//   PUT  /__object/BUCKET/KEY               store the body as an object (unsigned, direct)
//   POST /__many/BUCKET?prefix=P&count=N&suffix=S  store N one-byte objects P000000S ...
//   POST /__fault                           {"method","path","query","status","count","truncate",
//                                           "location","corrupt","body","headers","etag"}: the next
//                                           `count` matching requests fail (`truncate`: the real
//                                           answer cut short; `location`: a Location header, for
//                                           redirects; `corrupt`: one byte of the body flipped on
//                                           arrival, as a bad link would, and the request checked
//                                           as usual; `body`: this body with `status` and
//                                           `headers`, a hostile answer in place of the store's;
//                                           `etag`: the store's answer with this ETag, written
//                                           raw, so it may hold bytes Node would refuse to send;
//                                           `hold`: NAME: the request waits unanswered until
//                                           POST /__release?name=NAME, then is served as usual)
//   GET  /__held?name=NAME                  how many requests wait under that hold
//   POST /__release?name=NAME               lets them go on
//
// Integrity, as S3 checks it: x-amz-content-sha256 must be the body's hash (400
// XAmzContentSHA256Mismatch), Content-MD5 and x-amz-checksum-sha256 must match the body (400
// BadDigest); a multipart upload created with x-amz-checksum-algorithm: SHA256 needs
// x-amz-checksum-sha256 on every part and each part's checksum in the completion (400).
//   GET  /__presign?method=M&path=/B/K      an aws4 presigned URL for the path (query signing)
//   GET  /__log                             every proxied request: method, path, query, status,
//                                           checksum (the integrity header sent: sha256, md5 or "")
//   GET  /__connections                     {"connections": N}: TCP connections the store's port
//                                           accepted (with TLS, refused handshakes too: they
//                                           never reach /__log)
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const https = require('https');
const aws4 = require('aws4');
const S3rver = require('s3rver');

const flags = {};
const positional = [];
for (const arg of process.argv.slice(2)) {
  const m = /^--([a-z-]+)=(.*)$/.exec(arg);
  if (m) flags[m[1]] = m[2];
  else positional.push(arg);
}
const [dir, accessKeyId, secretAccessKey, region, sessionToken] = positional;
const tls = flags['tls-cert'] && flags['tls-key'] ?
  { cert: fs.readFileSync(flags['tls-cert']), key: fs.readFileSync(flags['tls-key']) } : null;
// The S3 listener's port, for presigned URLs (the control port may be another one).
let storePort = 0;
let storeConnections = 0;
const credentials = { accessKeyId, secretAccessKey, sessionToken: sessionToken || undefined };

let backendPort = 0;
let faults = [];
const held = new Map();  // hold name -> the requests waiting for /__release
const requestLog = [];
const finishedUploads = new Set();

function reply(res, status, code, message, extraHeaders = {}) {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code>` +
    `<Message>${message}</Message></Error>`;
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body),
    ...extraHeaders });
  res.end(body);
}

function sha256Hex(data) { return crypto.createHash('sha256').update(data).digest('hex'); }

// The header-signed request as aws4 signs it from the same method, path, query and signed
// headers: null when it matches, else why not.
function checkHeaderSignature(req) {
  const auth = req.headers['authorization'] || '';
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return `malformed Authorization: ${auth}`;
  const [, key, , reqRegion, signedHeaders] = m;
  if (key !== accessKeyId) return `unknown access key ${key}`;
  if (reqRegion !== region) return `region ${reqRegion}, expected ${region}`;
  if (!req.headers['x-amz-content-sha256']) return 'no x-amz-content-sha256';
  if (sessionToken && req.headers['x-amz-security-token'] !== sessionToken)
    return 'no or wrong x-amz-security-token';
  const headers = {};
  for (const name of signedHeaders.split(';')) {
    if (req.headers[name] === undefined) return `signed header ${name} not sent`;
    headers[name] = req.headers[name];
  }
  for (const name of ['host', 'x-amz-date', 'x-amz-content-sha256'].concat(sessionToken ? ['x-amz-security-token'] : [])) {
    if (!signedHeaders.split(';').includes(name)) return `${name} not signed`;
  }
  const signed = aws4.sign({ service: 's3', region, method: req.method, host: req.headers.host,
    path: req.url, headers }, credentials);
  if (signed.headers.Authorization !== auth)
    return `signature mismatch: sent ${auth}, expected ${signed.headers.Authorization}; ` +
      `canonical request: ${new aws4.RequestSigner({ service: 's3', region, method: req.method,
        host: req.headers.host, path: req.url, headers: { ...headers } }, credentials).canonicalString()}`;
  return null;
}

function checkQuerySignature(req) {
  const url = new URL(req.url, 'http://x');
  const q = url.searchParams;
  if (q.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') return 'bad X-Amz-Algorithm';
  const date = q.get('X-Amz-Date') || '';
  const expires = Number(q.get('X-Amz-Expires'));
  const t = Date.parse(`${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${date.slice(9, 11)}:${date.slice(11, 13)}:${date.slice(13, 15)}Z`);
  if (!(t > 0) || Date.now() > t + expires * 1000) return 'presigned URL expired';
  const sent = q.get('X-Amz-Signature');
  const unsigned = new URLSearchParams(q);
  unsigned.delete('X-Amz-Signature');
  const path = url.pathname + '?' + unsigned.toString();
  const signed = aws4.sign({ service: 's3', region, method: req.method, host: req.headers.host,
    path, signQuery: true, headers: {} }, credentials);
  const expected = new URL(signed.path, 'http://x').searchParams.get('X-Amz-Signature');
  return expected === sent ? null : 'presigned signature mismatch';
}

// Upload ids of multipart uploads created with x-amz-checksum-algorithm: SHA256, each with its
// parts' checksums by part number.
const checksumUploads = new Map();

// S3's integrity checks on a request whose signature passed: null, or the refusal.
function checkIntegrity(req, url, body) {
  const payloadHash = req.headers['x-amz-content-sha256'];
  if (payloadHash && payloadHash !== 'UNSIGNED-PAYLOAD' && !url.searchParams.has('X-Amz-Signature') &&
      payloadHash !== sha256Hex(body))
    return { status: 400, code: 'XAmzContentSHA256Mismatch',
      message: 'The provided x-amz-content-sha256 header does not match what was computed.' };
  const md5 = req.headers['content-md5'];
  if (md5 && md5 !== crypto.createHash('md5').update(body).digest('base64'))
    return { status: 400, code: 'BadDigest', message: 'Content-MD5 does not match the body' };
  const sha = req.headers['x-amz-checksum-sha256'];
  if (sha !== undefined && sha !== crypto.createHash('sha256').update(body).digest('base64'))
    return { status: 400, code: 'BadDigest',
      message: 'The SHA256 you specified did not match the calculated checksum.' };
  const uploadId = url.searchParams.get('uploadId');
  const parts = uploadId && checksumUploads.get(uploadId);
  if (!parts) return null;
  if (req.method === 'PUT') {
    if (sha === undefined)
      return { status: 400, code: 'InvalidRequest',
        message: 'The upload was created using a sha256 checksum; each part needs x-amz-checksum-sha256.' };
    parts.set(url.searchParams.get('partNumber'), sha);
  } else if (req.method === 'POST') {
    const listed = [...body.toString().matchAll(/<Part>(.*?)<\/Part>/g)].map((m) => m[1]);
    for (const part of listed) {
      const number = (/<PartNumber>(\d+)<\/PartNumber>/.exec(part) || [])[1];
      const checksum = (/<ChecksumSHA256>([^<]*)<\/ChecksumSHA256>/.exec(part) || [])[1];
      if (!number || checksum !== parts.get(number))
        return { status: 400, code: 'InvalidPart',
          message: `part ${number}: ChecksumSHA256 ${checksum} is not the checksum of the part uploaded` };
    }
  }
  return null;
}

// s3rver knows only its own access key (S3RVER) and checks no signature: every request that
// passed our check is signed again with that key on its way in.
const backendCredentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
const hopHeaders = ['authorization', 'host', 'connection', 'x-amz-date', 'x-amz-security-token'];

function resigned(method, path, inHeaders, body) {
  const url = new URL(path, 'http://x');
  for (const k of [...url.searchParams.keys()])
    if (k.startsWith('X-Amz-')) url.searchParams.delete(k);
  const headers = {};
  for (const [k, v] of Object.entries(inHeaders)) if (!hopHeaders.includes(k)) headers[k] = v;
  headers['x-amz-content-sha256'] = headers['x-amz-content-sha256'] || 'UNSIGNED-PAYLOAD';
  headers['content-length'] = String(body.length);
  const query = url.searchParams.toString();
  return aws4.sign({ service: 's3', region, method, host: `127.0.0.1:${backendPort}`,
    path: url.pathname + (query ? '?' + query : ''), headers }, backendCredentials);
}

function backend(method, path, inHeaders, body, res, truncate, onAnswer, rawEtag) {
  const signed = resigned(method, path, inHeaders, body);
  const out = http.request({ host: '127.0.0.1', port: backendPort, method, path: signed.path,
    headers: signed.headers }, (answer) => {
    const chunks = [];
    answer.on('data', (c) => chunks.push(c));
    answer.on('end', () => {
      const data = Buffer.concat(chunks);
      if (onAnswer && answer.statusCode < 300) onAnswer(data);
      if (!res) return;
      const h = { ...answer.headers };
      if (rawEtag !== undefined) {
        delete h.etag;
        h['content-length'] = String(data.length);
        h.connection = 'close';
        let head = `HTTP/1.1 ${answer.statusCode} OK\r\n`;
        for (const [k, v] of Object.entries(h)) head += `${k}: ${v}\r\n`;
        res.socket.end(Buffer.concat([Buffer.from(`${head}etag: ${rawEtag}\r\n\r\n`, 'latin1'),
          data]));
        return;
      }
      if (truncate) {
        // Promises more than it sends, so even an empty answer (a part's) is cut short.
        h['content-length'] = String(data.length + 64);
        res.writeHead(answer.statusCode, h);
        res.write(data.subarray(0, Math.floor(data.length / 2)));
        setTimeout(() => res.socket.destroy(), 20);
        return;
      }
      res.writeHead(answer.statusCode, h);
      res.end(data);
    });
  });
  out.on('error', (e) => res && reply(res, 502, 'BadGateway', String(e)));
  out.end(body);
}

function direct(method, path, body) {
  return new Promise((resolve, reject) => {
    const signed = resigned(method, path, {}, body);
    const out = http.request({ host: '127.0.0.1', port: backendPort, method, path: signed.path,
      headers: signed.headers }, (a) => {
      a.resume();
      a.on('end', () => (a.statusCode < 300 ? resolve() : reject(new Error(`${method} ${path}: ${a.statusCode}`))));
    });
    out.on('error', reject);
    out.end(body);
  });
}

async function control(req, res, body) {
  const url = new URL(req.url, 'http://x');
  const p = url.pathname;
  try {
    if (req.method === 'PUT' && p.startsWith('/__bucket/')) {
      await direct('PUT', '/' + p.slice('/__bucket/'.length), Buffer.alloc(0));
    } else if (req.method === 'PUT' && p.startsWith('/__object/')) {
      await direct('PUT', '/' + p.slice('/__object/'.length), body);
    } else if (req.method === 'POST' && p.startsWith('/__many/')) {
      const bucket = p.slice('/__many/'.length);
      const prefix = url.searchParams.get('prefix') || '';
      const suffix = url.searchParams.get('suffix') || '';
      const count = Number(url.searchParams.get('count'));
      for (let i = 0; i < count; i += 50) {
        const batch = [];
        for (let j = i; j < Math.min(count, i + 50); ++j)
          batch.push(direct('PUT', `/${bucket}/${prefix}${String(j).padStart(6, '0')}${suffix}`, Buffer.from('x')));
        await Promise.all(batch);
      }
    } else if (req.method === 'POST' && p === '/__fault') {
      faults.push(JSON.parse(body.toString()));
    } else if (req.method === 'GET' && p === '/__held') {
      const name = url.searchParams.get('name');
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(String((held.get(name) || []).length));
      return;
    } else if (req.method === 'POST' && p === '/__release') {
      const name = url.searchParams.get('name');
      const waiting = held.get(name) || [];
      held.delete(name);
      for (const go of waiting) go();
    } else if (req.method === 'GET' && p === '/__presign') {
      // For the S3 listener, whichever port this control request came in on.
      const host = tls ? `127.0.0.1:${storePort}` : req.headers.host;
      const signed = aws4.sign({ service: 's3', region, method: url.searchParams.get('method'),
        host, path: url.searchParams.get('path'), signQuery: true, headers: {} }, credentials);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`${tls ? 'https' : 'http'}://${host}${signed.path}`);
      return;
    } else if (req.method === 'GET' && p === '/__connections') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ connections: storeConnections }));
      return;
    } else if (req.method === 'GET' && p === '/__log') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(requestLog));
      return;
    } else {
      res.writeHead(404);
      res.end();
      return;
    }
    res.writeHead(200);
    res.end();
  } catch (e) {
    res.writeHead(500);
    res.end(String(e));
  }
}

function takeFault(req) {
  const url = new URL(req.url, 'http://x');
  for (const f of faults) {
    if (f.count <= 0) continue;
    if (f.method && f.method !== req.method) continue;
    if (f.path && !url.pathname.includes(f.path)) continue;
    if (f.query && !url.search.includes(f.query)) continue;
    f.count -= 1;
    return f;
  }
  return null;
}

function serve(req, res) {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    if (req.url.startsWith('/__')) return control(req, res, body);
    const url = new URL(req.url, 'http://x');
    // checksum: the integrity header the request carried (sha256, md5 or none).
    const entry = { method: req.method, path: url.pathname, query: url.search, status: 0,
      checksum: req.headers['x-amz-checksum-sha256'] !== undefined ? 'sha256'
        : req.headers['content-md5'] !== undefined ? 'md5' : '' };
    requestLog.push(entry);
    const fault = takeFault(req);
    // A held request waits, unanswered, until the test releases its name.
    if (fault && fault.hold) {
      entry.held = fault.hold;
      const waiting = held.get(fault.hold) || [];
      const go = () => { if (!res.destroyed) answer(req, res, body, url, entry, null); };
      waiting.push(go);
      held.set(fault.hold, waiting);
      // A client that gave up (its own timeout) is no longer waiting.
      res.on('close', () => {
        const now = held.get(fault.hold) || [];
        if (now.includes(go)) held.set(fault.hold, now.filter((g) => g !== go));
      });
      return;
    }
    answer(req, res, body, url, entry, fault);
  });
}

function answer(req, res, body, url, entry, fault) {
  {
    if (fault && fault.corrupt && body.length > 0) body[Math.floor(body.length / 2)] ^= 0x20;
    const problem = url.searchParams.has('X-Amz-Signature') ? checkQuerySignature(req)
      : checkHeaderSignature(req);
    if (problem) {
      entry.status = 403;
      return reply(res, 403, 'SignatureDoesNotMatch', problem.replace(/[<>&]/g, '_'));
    }
    const integrity = checkIntegrity(req, url, body);
    if (integrity) {
      entry.status = integrity.status;
      return reply(res, integrity.status, integrity.code, integrity.message);
    }
    if (fault && typeof fault.body === 'string') {
      entry.status = fault.status;
      res.writeHead(fault.status, { 'content-type': 'application/xml',
        'content-length': Buffer.byteLength(fault.body), ...(fault.headers || {}) });
      return res.end(fault.body);
    }
    if (fault && !fault.truncate && !fault.corrupt && fault.etag === undefined) {
      entry.status = fault.status;
      return reply(res, fault.status, 'InjectedFault', 'injected by the test',
        fault.location ? { location: fault.location } : {});
    }
    // A completed (or aborted) upload is gone: S3 answers 404 NoSuchUpload to its id, where
    // s3rver fails with a 500.
    const uploadId = url.searchParams.get('uploadId');
    if (uploadId !== null && finishedUploads.has(uploadId)) {
      entry.status = 404;
      return reply(res, 404, 'NoSuchUpload', 'The specified upload does not exist.');
    }
    if (uploadId !== null && (req.method === 'POST' || req.method === 'DELETE'))
      res.on('close', () => { if (Math.floor(res.statusCode / 100) === 2) finishedUploads.add(uploadId); });
    // s3rver 3.7 has no AbortMultipartUpload (405): answered here as S3 does, once signed.
    if (req.method === 'DELETE' && url.searchParams.has('uploadId')) {
      entry.status = 204;
      res.writeHead(204);
      return res.end();
    }
    entry.status = 200;
    res.on('finish', () => { entry.status = res.statusCode; });
    const checksummed = req.method === 'POST' && url.searchParams.has('uploads') &&
      (req.headers['x-amz-checksum-algorithm'] || '').toUpperCase() === 'SHA256';
    backend(req.method, req.url, req.headers, body, res, fault && fault.truncate, (data) => {
      const id = /<UploadId>([^<]+)<\/UploadId>/.exec(data.toString());
      if (checksummed && id) checksumUploads.set(id[1], new Map());
    }, fault ? fault.etag : undefined);
  }
}

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
}

(async () => {
  const s3 = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir });
  const addr = await s3.run();
  backendPort = addr.port;
  const store = tls ? https.createServer(tls, serve) : http.createServer(serve);
  store.on('connection', () => { storeConnections += 1; });
  storePort = await listen(store);
  const controlPort = tls ? await listen(http.createServer(serve)) : storePort;
  process.stdout.write(JSON.stringify({ port: storePort, control_port: controlPort }) + '\n');
})().catch((e) => {
  process.stderr.write(String(e && e.stack || e) + '\n');
  process.exit(1);
});
