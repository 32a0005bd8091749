// The one-way layers of ../shared/STYLE.md ("Proposed layout"), checked on every CI run (`npm run check:deps`):
// protocol and dsp import nothing of the project above them, the engine (index, match) knows no stream or server,
// the session knows no transport or HTTP, and nothing imports the process entry. A rule that must bend says why here.
const SERVER = '^server/src/'
const SERVICES = `${SERVER}(stream|transport|http|catalog|monitor|playlog|webhooks|cli|state|net|metrics|jobs|recordings)/|${SERVER}app\\.ts$`

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import cycle has no bottom layer: split the shared part out.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'protocol-stands-alone',
      severity: 'error',
      comment: 'protocol/ is the wire contract shared by the server and both SDKs: it imports nothing of theirs.',
      from: { path: '^protocol/src/' },
      to: { path: '^(server|client-sdk|test|bench)/' },
    },
    {
      name: 'sdk-only-protocol',
      severity: 'error',
      comment: 'The SDKs are installed without the server: they import protocol/ only.',
      from: { path: '^client-sdk/src/' },
      to: { path: '^(server|test|bench)/' },
    },
    {
      name: 'dsp-is-pure',
      severity: 'error',
      comment: 'Audio in, hashes out: dsp/ sees its parameters (config/) and nothing else of the server.',
      from: { path: `${SERVER}dsp/` },
      to: { path: SERVER, pathNot: [`${SERVER}(dsp|config)/`] },
    },
    {
      name: 'engine-below-services',
      severity: 'error',
      comment: 'index/ and match/ are the engine: no session, transport, HTTP, catalog job, monitor or metric.',
      from: { path: `${SERVER}(index|match)/` },
      to: { path: SERVICES },
    },
    {
      name: 'match-sees-index-interface',
      severity: 'error',
      comment: 'The matchers work on any Index (LMDB or memory): only the interface and its helpers (track-metadata.ts: ' +
        'the rules of a Track\'s catalog fields, which an identify answer copies; no storage in it).',
      from: { path: `${SERVER}match/` },
      to: { path: `${SERVER}index/`, pathNot: [`${SERVER}index/(types|posting-keys|track-metadata)\\.ts$`] },
    },
    {
      name: 'index-does-not-match',
      severity: 'error',
      comment: 'Storage does not rank: duplicates are found by catalog/ with match/ before a track is stored.',
      from: { path: `${SERVER}index/` },
      to: { path: `${SERVER}match/` },
    },
    {
      name: 'stream-below-transport',
      severity: 'error',
      comment: 'A session never touches a socket or an HTTP request; consumers (play log, monitors) listen to it.',
      from: { path: `${SERVER}stream/` },
      to: { path: `${SERVER}(transport|http|catalog|monitor|playlog|webhooks|cli|recordings)/|${SERVER}app\\.ts$` },
    },
    {
      name: 'metrics-only-prom-client',
      severity: 'error',
      comment: 'Metric definitions depend on nothing: whoever measures something imports them.',
      from: { path: `${SERVER}metrics/` },
      to: { path: '^(server|protocol|client-sdk)/', pathNot: [`${SERVER}metrics/`] },
    },
    {
      name: 'transport-serves-requests-only',
      severity: 'error',
      comment: 'A transport carries HTTP requests and replies (http/request.ts, and the token of an upgrade from ' +
        'http/access.ts), never the route table or the API description.',
      from: { path: `${SERVER}transport/` },
      to: { path: `${SERVER}http/`, pathNot: [`${SERVER}http/(request|access)\\.ts$`] },
    },
    {
      name: 'entry-imported-by-cli-only',
      severity: 'error',
      comment: 'app.ts wires everything and the CLI starts it; nothing else imports them.',
      from: { path: SERVER, pathNot: [`${SERVER}cli/`] },
      to: { path: `${SERVER}(cli/|app\\.ts$)` },
    },
    {
      name: 'analysis-workers-without-lmdb',
      severity: 'error',
      comment: 'Every analysis worker thread would load and map the LMDB binding only to hash a digest (index/digest.ts).',
      from: { path: `${SERVER}catalog/analyze-worker\\.ts$` },
      to: { path: 'node_modules/lmdb/', reachable: true },
    },
    {
      name: 'no-test-code-in-the-product',
      severity: 'error',
      from: { path: '^(server|protocol|client-sdk)/' },
      to: { path: '^(test|bench)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|\\.dist-dev)/' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
}
