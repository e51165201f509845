// ajv 8 (compiled validator, documents already parsed): docs/second.
//   node bench_ajv.js SCHEMA DOCS RUNS   prints the median of RUNS passes
//   node bench_ajv.js SCHEMA DOCS serve  one pass per "run" line on stdin,
//                                        one rate per line on stdout
const fs = require('fs');
const readline = require('readline');
const Ajv2020 = require('ajv/dist/2020').default;
const addFormats = require('ajv-formats');
const [schemaFile, docsFile, runs] = process.argv.slice(2);
const ajv = new Ajv2020({allErrors: false});
addFormats(ajv);
const validate = ajv.compile(JSON.parse(fs.readFileSync(schemaFile, 'utf8')));
const docs = fs.readFileSync(docsFile, 'utf8').trim().split('\n').map(JSON.parse);

function pass() {
  const t0 = process.hrtime.bigint();
  let ok = 0;
  for (const d of docs) if (validate(d)) ok++;
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (ok !== docs.length) throw new Error('ajv rejected ' + (docs.length - ok) + ' docs: ' + JSON.stringify(validate.errors));
  return docs.length / s;
}

if (runs === 'serve') {
  readline.createInterface({input: process.stdin}).on('line', () => {
    process.stdout.write(pass().toFixed(0) + '\n');
  });
} else {
  const rates = [];
  for (let r = 0; r < Number(runs); r++) rates.push(pass());
  rates.sort((a, b) => a - b);
  console.log(rates[Math.floor(rates.length / 2)].toFixed(0));
}
