#!/usr/bin/env python3
"""Generate random apk solver cases: python3 gen.py PROFILE N SEED OUTDIR.

Profiles: "single" (one repository, any name may depend on any, conflicts
and self-references), "multi" (up to three repositories, some tagged, the
same record in several, tagged world atoms), "installs" (like multi with
fewer constraints and worlds of existing names, so most cases install).
Each case is cNNN.test plus its .repo files, in apk-tools' test/solver
format with an empty @EXPECT; run apk-tools' test/solver.sh on each and
append the lines of apk's output to fill it in (see README).
"""
import base64, os, random, re, sys


def checksum(key):
    return 'Q1' + base64.b64encode(key.encode()[:20].ljust(20, b'\0')).decode()


def single(r, case, out):
    names = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']
    virts = ['v', 'w', 'so:x']
    def ver(): return r.choice(['1', '2', '3', '1.5', '2.1'])
    def dep(allow_conf=True):
        n = r.choice(names + virts)
        s = ('!' if allow_conf and r.random() < 0.12 else '') + n
        if r.random() < 0.3: s += r.choice(['>', '<', '=', '>=', '<=', '~']) + ver()
        return s
    recs, made = [], set()
    for _ in range(r.randint(3, 12)):
        n, v = r.choice(names), ver()
        if (n, v) in made: continue
        made.add((n, v))
        f = []
        if r.random() < 0.6: f.append('D:' + ' '.join(dep() for _ in range(r.randint(1, 3))))
        if r.random() < 0.35:
            ps = []
            for _ in range(r.randint(1, 2)):
                pn = r.choice(virts + names)
                ps.append(pn if r.random() < 0.5 else pn + '=' + ver())
            f.append('p:' + ' '.join(ps))
        if r.random() < 0.25: f.append('k:' + str(r.randint(1, 10)))
        if r.random() < 0.2: f.append('i:' + ' '.join(dep() for _ in range(r.randint(1, 2))))
        if r.random() < 0.05: f.append('A:badarch')
        recs.append('C:%s\nP:%s\nV:%s\nS:1\nI:1\n' % (checksum('%s-%s-%d' % (n, v, case)), n, v) + ''.join(x + '\n' for x in f))
    repo = 'r%03d.repo' % case
    open(os.path.join(out, repo), 'w').write('\n'.join(recs))
    world = ' '.join(sorted(set(dep(False) if r.random() < 0.8 else r.choice(names) for _ in range(r.randint(1, 3)))))
    return world, ['@REPO ' + repo]


def multi(r, case, out, installs=False):
    names = list('abcdefghijkl')
    virts = ['v', 'w', 'so:x', 'so:y', 'cmd:z']
    pver, pconf, nrec = (0.1, 0.02, (10, 30)) if installs else (0.2, 0.05, (3, 14))
    def ver(): return r.choice(['1', '2', '3', '1.5', '2.1', '2.1_rc1', '1.0-r1'])
    def dep(allow_conf=True, pool=None):
        n = r.choice(pool or (names + virts))
        s = ('!' if allow_conf and r.random() < pconf else '') + n
        if r.random() < pver: s += r.choice(['>', '<', '=', '>=', '<=', '~', '>~']) + ver()
        return s
    nrepos = r.choice([1, 1, 2, 2, 3])
    tags = [None] + [r.choice([None, 't1', 't2']) for _ in range(nrepos - 1)]
    lines = []
    for ri in range(nrepos):
        recs, made = [], set()
        for _ in range(r.randint(*nrec)):
            n, v = r.choice(names), ver()
            if (n, v) in made: continue
            made.add((n, v))
            f = []
            later = [x for x in names if x > n] or names  # fewer cycles
            if r.random() < 0.5: f.append('D:' + ' '.join(dep(True, later + virts) for _ in range(r.randint(1, 3))))
            if r.random() < 0.3:
                ps = []
                for _ in range(r.randint(1, 2)):
                    pn = r.choice(virts)
                    ps.append(pn if r.random() < 0.5 else pn + '=' + ver())
                f.append('p:' + ' '.join(ps))
            if r.random() < 0.25: f.append('k:' + str(r.randint(1, 10)))
            if r.random() < 0.15: f.append('i:' + ' '.join(dep(True) for _ in range(r.randint(1, 2))))
            if r.random() < 0.03: f.append('A:badarch')
            if r.random() < 0.05: f.append('A:noarch')
            key = '%s-%s-%d' % (n, v, case)
            if ri > 0 and r.random() < 0.3: key += 'dup'
            recs.append('C:%s\nP:%s\nV:%s\nS:1\nI:1\n' % (checksum(key), n, v) + ''.join(x + '\n' for x in f))
        repo = 'r%03d_%d.repo' % (case, ri)
        open(os.path.join(out, repo), 'w').write('\n'.join(recs))
        lines.append('@REPO %s%s' % (('@' + tags[ri] + ' ') if tags[ri] else '', repo))
    used = [t for t in tags if t]
    w = set()
    for _ in range(r.randint(1, 4)):
        d = r.choice(names) if installs or r.random() < 0.5 else dep(False)
        if used and r.random() < 0.3:
            m = re.match(r'([^<>=~]+)(.*)', d)
            d = m.group(1) + '@' + r.choice(used) + m.group(2)
        w.add(d)
    return ' '.join(sorted(w)), lines


def main():
    profile, n, seed, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    os.makedirs(out, exist_ok=True)
    for case in range(n):
        r = random.Random(seed + case)
        if profile == 'single':
            world, repos = single(r, case, out)
        else:
            world, repos = multi(r, case, out, installs=(profile == 'installs'))
        with open(os.path.join(out, 'c%03d.test' % case), 'w') as f:
            f.write('@ARGS add %s\n%s\n@EXPECT\n' % (world, '\n'.join(repos)))


main()
