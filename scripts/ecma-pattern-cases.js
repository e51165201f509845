// Generates ECMA-262 pattern/string pairs from a seed and node's verdicts on
// them (RegExp with the "u" flag): CSV lines of pattern (JSON), string
// (JSON), verdict (match, nomatch or error).  Deterministic for a seed.
//   usage: node scripts/ecma-pattern-cases.js SEED PATTERNS STRINGS_EACH
'use strict';

const [seed, npatterns, nstrings] = process.argv.slice(2).map(Number);

// mulberry32: a small seeded generator
let state = seed >>> 0;
function rand() {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (n) => Math.floor(rand() * n);
const pick = (a) => a[int(a.length)];
const chance = (p) => rand() < p;

// the subject alphabet: ASCII, Latin-1, multibyte, astral, line terminators
const alphabet = ['a', 'b', 'c', 'A', 'Z', 'x', '-', '_', '0', '5', ' ', '!', '/',
    '\n', '\r', '\u2028', '\u00a0', '\u001c', '\u0085', '\u00e9', '\u00aa', '\u2160',
    '\u0301', '\u041b', '\u03b1', '\u0661', '\ufeff', '\u{1f600}', '\b', '\t'];

const literals = ['a', 'b', 'c', 'A', 'x', '0', '5', '_', ' ', '!', '/', '\u00e9',
    '\u{1f600}', '\u03b1', ','];
const escapes = ['\\d', '\\D', '\\w', '\\W', '\\s', '\\S', '\\x41', '\\x62', '\\x41B',
    '\\u0061', '\\u00e9', '\\uD83D\\uDE00', '\\u{1F600}', '\\u{61}', '\\cJ', '\\cA', '\\0',
    '\\n', '\\r', '\\t', '\\.', '\\/', '\\*', '\\(', '\\[', '\\]', '\\{', '\\}', '\\|',
    '\\$', '\\^', '\\?', '\\+', '\\\\'];
const properties = ['\\p{L}', '\\p{Lu}', '\\p{Ll}', '\\P{L}', '\\p{N}', '\\p{Nd}', '\\p{M}',
    '\\p{P}', '\\p{White_Space}', '\\p{Uppercase}', '\\p{Lowercase}', '\\p{Alphabetic}',
    '\\p{Script=Latin}', '\\p{sc=Grek}', '\\p{sc=Cyrl}', '\\p{General_Category=Letter}',
    '\\p{gc=Nd}', '\\P{Lu}', '\\p{Any}', '\\p{ASCII}', '\\p{Letter}', '\\p{Emoji_Presentation}',
    '\\p{ID_Start}', '\\p{Hex_Digit}', '\\p{Cased}'];
// constructs that are syntax errors with the "u" flag
const invalid = ['\\a', '\\e', '\\z', '\\1', '\\k<nope>', '{', '}', ']', 'a**', '\\c1',
    '\\x4', '\\u12', '(?i)', '\\p{letter}', '\\p{Script=latin}', '[\\d-z]', '[z-a]', '\\01',
    '(?=a)*', 'a{2,1}', '\\p{Foo}', '\\B*', '^*'];

const classAtoms = ['a', 'b', 'c', 'x', 'A', 'Z', '0', '9', '_', '/', '!', ' ', '\u00e9',
    '\\d', '\\w', '\\s', '\\D', '\\W', '\\S', '\\b', '\\-', '\\x41', '\\u00e9', '\\n',
    '\\uD83D\\uDE00', '\\p{L}', '\\P{L}', '\\p{Lu}', '\\cJ', '\\]', '\\\\', '.', '$', '(', '|', '^'];
const rangeEnds = ['a', 'c', 'e', 'z', 'A', 'Z', '0', '9', '/', '-', '\\x41', '\\u00e9',
    '\\u{1F600}', ' ', '_'];

function klass() {
    let s = '[' + (chance(0.3) ? '^' : '');
    const n = int(4);
    for (let i = 0; i < n; i++) {
        if (chance(0.35)) s += pick(rangeEnds) + '-' + pick(rangeEnds);
        else s += pick(classAtoms);
        if (chance(0.15)) s += '-';          // a literal dash (a-c-e, 0-9-_)
    }
    return s + ']';
}

// counts above 255 once per pattern, on a character or class: PCRE2
// repeats the counted item in its compiled form, and a large group counted
// hundreds of times passes PCRE2's size limit (a documented difference)
let bigCount = false;

function quantifier(depth, simpleOnly) {
    const small = ['*', '+', '?', '{2}', '{1,3}', '{0,}', '{3,}', '{0,2}'];
    const big = ['{256}', '{1,300}', '{0,256}'];
    let q = pick(small);
    if (depth === 0 && !simpleOnly && !bigCount && chance(0.3)) {
        q = pick(big);
        bigCount = true;
    }
    return q + (chance(0.2) ? '?' : '');
}

let groups = 0;
let names = [];

function atom(depth) {
    const r = rand();
    if (r < 0.3) return pick(literals);
    if (r < 0.45) return pick(escapes);
    if (r < 0.55) return pick(properties);
    if (r < 0.68) return klass();
    if (r < 0.73) return '.';
    if (depth < 3 && r < 0.9) {
        const kind = int(4);
        const inner = disjunction(depth + 1);
        if (kind === 0) { groups++; return '(' + inner + ')'; }
        if (kind === 1) return '(?:' + inner + ')';
        const name = 'n' + names.length;
        names.push(name);
        groups++;
        return '(?<' + name + '>' + inner + ')';
    }
    return pick(literals);
}

function term(depth) {
    const r = rand();
    if (r < 0.05) return pick(['^', '$', '\\b', '\\B']);
    if (r < 0.09 && depth < 3) {
        // lookarounds; lookbehinds of fixed length only (PCRE2 10.42)
        const kind = pick(['(?=', '(?!', '(?<=', '(?<!']);
        if (kind.startsWith('(?<')) return kind + pick(literals) + (chance(0.5) ? pick(['a', '\\d', '[bc]']) : '') + ')';
        return kind + disjunction(depth + 1) + ')';
    }
    const a = atom(depth);
    return chance(0.3) ? a + quantifier(depth, a.startsWith('(')) : a;
}

function alternative(depth) {
    let s = '';
    const n = 1 + int(3);
    for (let i = 0; i < n; i++) s += term(depth);
    return s;
}

function disjunction(depth) {
    let s = alternative(depth);
    while (chance(0.2)) s += '|' + alternative(depth);
    return s;
}

function pattern() {
    groups = 0;
    names = [];
    bigCount = false;
    let s = (chance(0.5) ? '^' : '') + disjunction(0);
    // back-references at the top level, where ECMA and PCRE2 agree:
    // numbered, named, forward (to a group after them) and unset ones
    if (groups > 0 && chance(0.4)) {
        const ref = chance(0.5) || names.length === 0 ? '\\' + (1 + int(groups)) : '\\k<' + pick(names) + '>';
        s = chance(0.3) ? ref + s : s + ref;
    }
    if (chance(0.08)) {
        const bad = pick(invalid);
        const cps = Array.from(s);          // never inside a surrogate pair
        const at = int(cps.length + 1);
        s = cps.slice(0, at).join('') + bad + cps.slice(at).join('');
    }
    return s + (chance(0.5) ? '$' : '');
}

function subject() {
    let s = '';
    const n = int(7);
    for (let i = 0; i < n; i++) s += pick(alphabet);
    return s;
}

const csv = (v) => '"' + v.replace(/"/g, '""') + '"';
const out = [];
for (let i = 0; i < npatterns; i++) {
    const p = pattern();
    let re = null;
    try { re = new RegExp(p, 'u'); } catch (e) { re = null; }
    const strings = [];
    for (let j = 0; j < nstrings; j++) strings.push(subject());
    for (const s of strings) {
        const verdict = re === null ? 'error' : (re.test(s) ? 'match' : 'nomatch');
        out.push([csv(JSON.stringify(p)), csv(JSON.stringify(s)), verdict].join(','));
    }
}
process.stdout.write(out.join('\n') + '\n');
