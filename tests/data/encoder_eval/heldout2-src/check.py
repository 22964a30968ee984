"""Check every expected code and every Alphabetic Index path in heldout2.tsv against the shared code-set files."""
import gzip, csv, re, sys, collections
import xml.etree.ElementTree as ET
import simple_icd_10_cm as cm
TSV = sys.argv[1] if len(sys.argv) > 1 else '/work/evalsets/encoder_heldout2/heldout2.tsv'
def to_internal(p):  # TSV notation -> checker notation
    segs = []
    for s in [x.strip() for x in p.split(' ; ') if x.strip()]:
        s = s.replace('Table of Drugs and Chemicals: ', 'Drugs: ').replace('External Cause Index: ', 'Ext: ').replace('Neoplasm Table: Neoplasm > ', 'Neo: ').replace(' > see ', ' => ')
        segs.append(s)
    return ';'.join(segs)
_lines = open(TSV, encoding='utf-8').read().rstrip('\n').split('\n')
assert _lines[0] == 'class\tquery\texpected\tindex_path', _lines[0]
ROWS = '\n'.join('|'.join(l.split('\t')[:3] + [to_internal(l.split('\t')[3])]) for l in _lines[1:])
D = '/work/shared/codesets/'
CPT_OK = set('99202 99203 99204 99205 99211 99212 99213 99214 99215 93000 93005 93010 36415 81002 87880 83036 85025 80053 90471 90472 96372 94640 12001 12002 10060 11102 17000 20610 71046 73610 99406 99401'.split())
def norm(s): return re.sub(r'\s+', ' ', re.sub(r'\([^)]*\)', '', s)).strip().lower()
# --- main index tree (FY2025 CSV) ---
class N:
    def __init__(s, t, code='', see=''): s.t, s.code, s.see, s.kids = t, code, see, []
root = N('ROOT'); stack = [root]
for r in csv.DictReader(gzip.open(D + 'ICD10CM_2025_Index.csv.gz', 'rt', encoding='utf-8')):
    lv = int(r['Level']); n = N(r['Term'], r['Code'], r['See'])
    stack = stack[:lv + 1]; stack[-1].kids.append(n); stack.append(n)
def xmltree(fn, drug=False):
    rt = N('ROOT')
    def rec(x, n):
        for t in x.findall('mainTerm') + x.findall('term'):
            title = ''.join(t.find('title').itertext())
            code = t.findtext('code') or ''
            if drug: code = {c.get('col'): c.text for c in t.findall('cell')}
            m = N(title, code, t.findtext('see') or ''); n.kids.append(m); rec(t, m)
    for L in ET.parse(gzip.open(D + fn)).getroot().findall('letter'): rec(L, rt)
    return rt
def xml17():
    rt = N('ROOT')
    def rec(x, n):
        for t in x.findall('mainTerm') + x.findall('term'):
            m = N(''.join(t.find('title').itertext()), t.findtext('code') or '', t.findtext('see') or ''); n.kids.append(m); rec(t, m)
    for L in ET.parse(gzip.open(D + 'icd10cm_index_2017.xml.gz')).getroot().findall('letter'): rec(L, rt)
    return rt
idx17 = xml17()
ext = xmltree('icd-10-cm-eindex-2025.xml.gz'); drugs = xmltree('icd-10-cm-drug-2025.xml.gz', True)
neo = xmltree('icd-10-cm-neoplasm-2025.xml.gz', True)
NEOH = {'Malignant Primary': '2', 'Malignant Secondary': '3', 'Ca in situ': '4', 'Benign': '5', 'Uncertain Behavior': '6', 'Unspecified Behavior': '7'}
DRUGH = {'Poisoning, Accidental': '2', 'Poisoning, Intentional self-harm': '3', 'Poisoning, Assault': '4', 'Poisoning, Undetermined': '5', 'Adverse effect': '6', 'Underdosing': '7'}
def walk(tree, parts):
    n = tree
    for p in parts:
        p2 = norm(p)
        cands = [k for k in n.kids if norm(k.t) == p2] or [k for k in n.kids if norm(k.t).startswith(p2)] \
            or [k for k in n.kids if norm(k.t).split(',')[0].startswith(p2.split(',')[0])]
        if not cands: return None, f'no "{p}" under "{n.t}"'
        n = cands[0]
    return n, ''
hc = {r['HCPC']: r for r in csv.DictReader(gzip.open(D + 'HCPC2025_OCT_ANWEB.csv.gz', 'rt', encoding='utf-8'))}
rows = [l.split('|') for l in ROWS.strip().splitlines()]
bad = 0
for cls, q, exp, path in rows:
    codes = exp.split(); msgs = []
    for c in codes:
        if cls == 'service_words' and c in hc:
            r = hc[c]; ok = r['RECID'] == '3' and not r['TERM DT']
            msgs.append(f'{c}:HCPCS ' + ('ok' if ok else 'MISSING/TERMINATED'))
        elif re.fullmatch(r'\d{5}', c):
            ok = c in CPT_OK; msgs.append(f'{c}:CPT-list' if ok else f'{c}:CPT NOT IN ALLOWED LIST')
        elif re.fullmatch(r'[A-V]\d{4}', c) and c not in ('') and not cm.is_valid_item(c):
            r = hc.get(c); ok = bool(r) and r['RECID'] == '3' and not r['TERM DT']
            msgs.append(f'{c}:HCPCS ' + ('ok' if ok else 'MISSING/TERMINATED'))
        else:
            ok = cm.is_valid_item(c) and cm.is_leaf(c)
            msgs.append(f'{c}:' + ('leaf' if ok else 'NOT VALID LEAF'))
        bad += not ok
    # index path(s)
    found = []
    for seg in [s.strip() for s in path.split(';') if s.strip()]:
        if seg.startswith('Drugs:') or seg.startswith('Neo:'):
            tree, H = (drugs, DRUGH) if seg.startswith('Drugs:') else (neo, NEOH)
            parts = [p.strip() for p in seg.split(':', 1)[1].split('>')]
            if tree is neo: parts = ['Neoplasm'] + parts  # neoplasm table main term
            n, err = walk(tree, parts[:-1])
            col = re.sub(r'\s*\(.*', '', parts[-1])
            found.append(err or f'{n.code.get(H[col], "?") if isinstance(n.code, dict) else "?"}')
        elif seg.startswith('Ext:'):
            n, err = walk(ext, [p.strip() for p in seg[4:].split('>')]); found.append(err or n.code or ('see ' + n.see))
        else:
            seg2 = re.sub(r'\[.*?\]|\(tabular.*?\)', '', seg)
            chain = [x.strip() for x in seg2.split('=>')]
            res = []
            for i, part in enumerate(chain):
                n, err = walk(root, [p.strip() for p in part.split('>')])
                if err:
                    n, err2 = walk(idx17, [p.strip() for p in part.split('>')])
                    err = err2 and err; tag = ' (FY2017 XML)' if not err2 else ''
                else: tag = ''
                if err: res = [err]; break
                if i < len(chain) - 1 and not n.see: res = ['expected a see-reference at ' + part]; break
                res = [(n.code or ('see ' + n.see)) + tag]
            found.append(res[0])
    # compare index result with expected (prefix match, ignoring '-' and 7th char placeholders)
    agree = []
    for f in found:
        fc = f.replace(' (FY2017 XML)', '').rstrip('-').replace('.', '')
        def base(c):
            c = c.replace('.', '')
            if len(c) == 7 and c[0] in 'STVWXY': c = c[:6].rstrip('X')   # drop 7th character + placeholders
            return c
        dash = f.rstrip().endswith('-')
        agree.append(any((base(c).startswith(fc) if dash else base(c) == fc.rstrip('X')) for c in codes)
                     if fc and not fc.startswith(('no ', 'see')) and fc != '?' else False)
    valid = not any(('NOT' in m or 'MISSING' in m) for m in msgs)
    flag = '' if valid and all(agree) and len(found) == len(codes) or (valid and not path and all('ok' in m or 'CPT-list' in m for m in msgs)) else '  <<< CHECK'
    print(f'{cls:15} {q:45} {" ".join(msgs):40} idx={found}{flag}')
print('invalid codes:', bad)
print(collections.Counter(r[0] for r in rows), len(rows))
# --- extra checks: duplicates, title copies, T-code 7th character, index_path presence ---
import difflib
qs = [r[1] for r in rows]; dup = [q for q in set(qs) if qs.count(q) > 1]
print('duplicate queries:', dup)
for cls, q, exp, path in rows:
    for c in exp.split():
        if cm.is_valid_item(c) and not (cls == 'service_words'):
            t = cm.get_description(c).lower()
            r = difflib.SequenceMatcher(None, q.lower(), t).ratio()
            if r > 0.8: print('  close to title:', q, '|', c, t, round(r, 2))
            if c.startswith('T') and len(c.replace('.', '')) == 7:
                want = 'D' if re.search(r'f/u|follow', q) else 'S' if 'sequela' in q else 'A'
                if c[-1] != want: print('  7th char?', q, c)
    icd = any(cm.is_valid_item(c) for c in exp.split()) and cls != 'service_words'
    if icd != bool(path.strip()): print('  index_path presence mismatch:', q)
print('extra checks done')
