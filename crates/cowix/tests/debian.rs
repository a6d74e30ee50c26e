//! Debian trixie riscv64 userland, unmodified (issue 5): busybox sh,
//! lua5.4, python3.13 and sqlite3 from Debian's packages (fetched with
//! their libraries by scripts/fetch-debian --deps into the ignored cache)
//! run under `cowix run --root`, each compared with what real Linux
//! prints. qemu-riscv64 agrees on the lua and sqlite outputs; where a
//! program execs another riscv64 program (busybox applets, python's
//! subprocess) qemu-user cannot follow, and the expected text is Linux's.

mod common;

use common::*;

/// Runs `argv` in the Debian root with PATH and HOME set; returns
/// (stdout, stderr, exit code).
fn run_debian(argv: &[&str]) -> (String, String, i32) {
    let root = debian_root();
    let mut args = vec![
        "run".to_string(),
        "--root".into(),
        root.to_string_lossy().into_owned(),
        "--env".into(),
        "PATH=/usr/bin:/bin".into(),
        "--env".into(),
        "HOME=/tmp".into(),
        "--".into(),
    ];
    args.extend(argv.iter().map(|s| s.to_string()));
    let o = cowix(&args);
    (stdout(&o), stderr(&o), o.status.code().unwrap_or(-1))
}

const SH_SCRIPT: &str = r##"trap 'echo trapped USR1' USR1
trap 'echo bye from EXIT trap' EXIT
echo "start $$" | busybox sed 's/[0-9][0-9]*/PID/'
printf 'b\na\nc\na\n' | busybox sort | busybox uniq -c | busybox tr -s ' '
x=$(echo hello | busybox tr a-z A-Z); echo "subst: $x"
n=0; while [ $n -lt 5 ]; do n=$((n+1)); done; echo "loop: $n"
for w in one two three; do printf '%s ' "$w"; done; echo
cd /usr
( cd /; echo "subshell in $(pwd)"; exit 3 ); echo "subshell status $?, still in $(pwd)"
kill -USR1 $$
out=$(busybox sh -c 'echo child $0 "$@"' zero a b); echo "$out"
busybox env -i FOO=bar busybox sh -c 'echo env exec: $FOO'
echo x y | busybox xargs busybox echo xargs exec:
busybox seq 1 10 | busybox awk '{s+=$1} END {print "sum", s}'
echo abc | busybox wc -c
case "$(busybox uname -m)" in riscv64) echo machine ok;; *) echo machine bad;; esac
f() { return 7; }; f; echo "func status $?"
busybox false || echo "false failed"
echo done
"##;

#[test]
fn busybox_sh_runs_pipes_subshells_substitution_loops_traps_and_exec_applets() {
    let (out, err, code) = run_debian(&["/usr/bin/busybox", "sh", "-c", SH_SCRIPT]);
    assert_eq!(code, 0, "stderr: {err}");
    assert_eq!(
        out,
        "start PID\n 2 a\n 1 b\n 1 c\nsubst: HELLO\nloop: 5\none two three \n\
         subshell in /\nsubshell status 3, still in /usr\ntrapped USR1\nchild zero a b\n\
         env exec: bar\nxargs exec: x y\nsum 55\n4\nmachine ok\nfunc status 7\n\
         false failed\ndone\nbye from EXIT trap\n",
        "stderr: {err}"
    );
}

const LUA_SCRIPT: &str = r##"local s = "Hello, Lua World"
print(s:upper(), #s, s:sub(1, 5), s:find("Lua"))
print(string.format("%5.2f|%d|%s|%x", math.pi, 42, "str", 255))
print((s:gsub("o", "0")))
for w in s:gmatch("%a+") do io.write(w, ";") end print()
local t = {}
for i = 1, 10 do t[i] = i * i end
table.sort(t, function(a, b) return a > b end)
print(table.concat(t, ","))
local m = {b = 2, a = 1, c = 3}
local keys = {} for k in pairs(m) do keys[#keys + 1] = k end table.sort(keys)
print(table.concat(keys, " "), #t, select("#", 1, 2, 3))
local co = coroutine.create(function(a, b)
  local c = coroutine.yield(a + b)
  local d, e = coroutine.yield(c * 2)
  return d + e
end)
print(coroutine.resume(co, 1, 2))
print(coroutine.resume(co, 10))
print(coroutine.resume(co, 3, 4))
print(coroutine.resume(co), coroutine.status(co))
local gen = coroutine.wrap(function() for i = 1, 3 do coroutine.yield(i) end end)
print(gen(), gen(), gen())
local now = os.time()
print(type(now), now > 1600000000, os.time({year = 2000, month = 1, day = 1, hour = 0}) ~= nil)
print(os.date("!%Y-%m-%d %H:%M:%S", 86400 * 365))
local path = arg[1]
local f = assert(io.open(path, "w"))
f:write("line one\n", "line two\n", 3.5, "\n")
f:close()
local n = 0
for line in io.lines(path) do n = n + 1 io.write(n, ":", line, "\n") end
f = assert(io.open(path, "r")) print(f:seek("end")) f:close()
print(os.remove(path), io.open(path) == nil)
local ok, e = pcall(error, {code = 7}) print(ok, e.code)
print(select(2, pcall(error, "boom", 0)))
print(math.maxinteger, 7 // 2, 7 % -3, 2^10, 10 / 4)
print(string.pack and #string.pack("i4i8", 1, 2), utf8.char(72, 228, 8364))
"##;

#[test]
fn lua_runs_strings_tables_coroutines_time_and_file_io() {
    let root = debian_root();
    let dir = GuestScratch::new(&root, "lua");
    std::fs::write(dir.host().join("t.lua"), LUA_SCRIPT).unwrap();
    let script = format!("{}/t.lua", dir.guest());
    let data = format!("{}/data.txt", dir.guest());
    let (out, err, code) = run_debian(&["/usr/bin/lua5.4", &script, &data]);
    assert_eq!(code, 0, "stderr: {err}");
    assert_eq!(out, LUA_EXPECTED, "stderr: {err}");
    assert!(
        !dir.host().join("data.txt").exists(),
        "os.remove left the file"
    );
}

const LUA_EXPECTED: &str = r##"HELLO, LUA WORLD	16	Hello	8	10
 3.14|42|str|ff
Hell0, Lua W0rld
Hello;Lua;World;
100,81,64,49,36,25,16,9,4,1
a b c	10	3
true	3
true	20
true	7
false	dead
1	2	3
number	true	true
1971-01-01 00:00:00
1:line one
2:line two
3:3.5
22
true	true
false	7
boom
9223372036854775807	3	-2	1024.0	2.5
12	Hä€
"##;

const PY_SCRIPT: &str = r##"import os, sys, json, re, hashlib, subprocess
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r)
    os.write(w, b"hello from child %d" % (1))
    os._exit(7)
os.close(w)
data = b""
while True:
    chunk = os.read(r, 100)
    if not chunk:
        break
    data += chunk
os.close(r)
wpid, status = os.waitpid(pid, 0)
print("fork:", data.decode(), wpid == pid, os.WIFEXITED(status), os.WEXITSTATUS(status))
p = subprocess.run([sys.executable, "-c", "import sys; print('child says', sys.argv[1:]); sys.exit(3)", "x", "y"], capture_output=True, text=True)
print("subprocess:", repr(p.stdout), p.returncode, repr(p.stderr))
p = subprocess.run(["/usr/bin/busybox", "tr", "a-z", "A-Z"], input=b"piped through busybox\n", capture_output=True)
print("busybox:", p.stdout, p.returncode)
doc = {"name": "cowix", "list": [1, 2.5, None, True], "nested": {"k": "v\u00e9"}}
s = json.dumps(doc, sort_keys=True)
print("json:", s, json.loads(s) == doc)
m = re.findall(r"(\w+)@(\w+)\.com", "alice@example.com, bob@test.com")
print("re:", m, re.sub(r"\d+", lambda x: str(int(x.group()) * 2), "a1b22c333"))
print("sha256:", hashlib.sha256(b"abc").hexdigest())
print("md5:", hashlib.md5(b"").hexdigest())
"##;

#[test]
fn python_forks_pipes_runs_subprocesses_and_computes_json_re_and_sha256() {
    let root = debian_root();
    let dir = GuestScratch::new(&root, "py");
    std::fs::write(dir.host().join("t.py"), PY_SCRIPT).unwrap();
    let script = format!("{}/t.py", dir.guest());
    let (out, err, code) = run_debian(&["/usr/bin/python3.13", &script]);
    assert_eq!(code, 0, "stderr: {err}");
    assert_eq!(
        out,
        "fork: hello from child 1 True True 7\n\
         subprocess: \"child says ['x', 'y']\\n\" 3 ''\n\
         busybox: b'PIPED THROUGH BUSYBOX\\n' 0\n\
         json: {\"list\": [1, 2.5, null, true], \"name\": \"cowix\", \"nested\": {\"k\": \"v\\u00e9\"}} True\n\
         re: [('alice', 'example'), ('bob', 'test')] a2b44c666\n\
         sha256: ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n\
         md5: d41d8cd98f00b204e9800998ecf8427e\n",
        "stderr: {err}"
    );
}

#[test]
fn python_dash_c_prints_and_exits_with_its_status() {
    let (out, err, code) = run_debian(&[
        "/usr/bin/python3.13",
        "-c",
        "import sys, os; print(sys.version_info[:2], os.getpid() > 0, sys.platform); sys.exit(4)",
    ]);
    assert_eq!(
        (out.as_str(), code),
        ("(3, 13) True linux\n", 4),
        "stderr: {err}"
    );
}

const SQL_SCRIPT: &str = r##"CREATE TABLE author(id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE book(id INTEGER PRIMARY KEY, author_id INTEGER REFERENCES author(id), title TEXT, pages INTEGER);
BEGIN;
INSERT INTO author(name) VALUES ('Knuth'), ('Tanenbaum'), ('Ritchie');
INSERT INTO book(author_id, title, pages) VALUES (1, 'TAOCP 1', 672), (1, 'TAOCP 2', 784), (2, 'Operating Systems', 1136), (3, 'The C Programming Language', 272);
COMMIT;
BEGIN;
INSERT INTO book(author_id, title, pages) VALUES (2, 'Rolled back', 1);
ROLLBACK;
SELECT a.name, count(b.id), sum(b.pages), max(b.title) FROM author a JOIN book b ON b.author_id = a.id GROUP BY a.id ORDER BY sum(b.pages) DESC;
SELECT count(*) FROM book;
CREATE INDEX book_pages ON book(pages);
SELECT title FROM book WHERE pages > 700 ORDER BY pages;
"##;

#[test]
fn sqlite3_runs_a_script_against_a_database_file_and_reopens_it() {
    let root = debian_root();
    let dir = GuestScratch::new(&root, "sqlite");
    std::fs::write(dir.host().join("t.sql"), SQL_SCRIPT).unwrap();
    let db = format!("{}/t.db", dir.guest());
    let read = format!(".read {}/t.sql", dir.guest());
    let (out, err, code) = run_debian(&["/usr/bin/sqlite3", "-bail", &db, &read]);
    assert_eq!(code, 0, "stderr: {err}");
    assert_eq!(
        out,
        "Knuth|2|1456|TAOCP 2\nTanenbaum|1|1136|Operating Systems\n\
         Ritchie|1|272|The C Programming Language\n4\nTAOCP 2\nOperating Systems\n",
        "stderr: {err}"
    );
    let size = std::fs::metadata(dir.host().join("t.db")).unwrap().len();
    assert!(
        size >= 4096 && size % 4096 == 0,
        "database file of {size} bytes"
    );
    let (out, err, code) = run_debian(&[
        "/usr/bin/sqlite3",
        &db,
        "SELECT name FROM author ORDER BY name; PRAGMA integrity_check; SELECT count(*) FROM book WHERE pages > 700;",
    ]);
    assert_eq!(code, 0, "stderr: {err}");
    assert_eq!(out, "Knuth\nRitchie\nTanenbaum\nok\n2\n", "stderr: {err}");
}
