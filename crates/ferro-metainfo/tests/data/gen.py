# Run: python3 gen.py .   (from this directory) to regenerate the fixtures.
# Generates crates/ferro-metainfo/tests/data/*.torrent: small hand-shaped torrents in
# libtorrent's test_torrents categories. Dicts are lists of pairs, written in the
# given order (so unordered and duplicate keys can be expressed).
import hashlib, os, sys
out = sys.argv[1]
def be(v):
    if isinstance(v, int): return b"i%de" % v
    if isinstance(v, str): v = v.encode()
    if isinstance(v, bytes): return b"%d:%s" % (len(v), v)
    if isinstance(v, list): return b"l" + b"".join(be(x) for x in v) + b"e"
    if isinstance(v, tuple):  # dict as tuple of pairs, in order
        return b"d" + b"".join(be(k) + be(x) for k, x in v) + b"e"
    raise TypeError(v)
def pieces(total, pl): return bytes(range(20)) * (-(-total // pl))
def D(*pairs): return tuple(pairs)
def single(length=100, pl=16384, **kw):
    return D(("length", length), ("name", "file.bin"), ("piece length", pl), ("pieces", pieces(length, pl)))
def multi(files, pl=16384, name="dir"):
    total = sum(f[0] for f in files)
    fl = [D(*([("attr", f[2])] if len(f) > 2 else []), ("length", f[0]), ("path", f[1])) for f in files]
    return D(("files", fl), ("name", name), ("piece length", pl), ("pieces", pieces(total, pl)))
def root(info, *extra): return D(("announce", "http://127.0.0.1:6969/announce"), *extra, ("info", info))
def write(name, t):
    with open(os.path.join(out, name + ".torrent"), "wb") as f: f.write(be(t) if not isinstance(t, bytes) else t)

write("single_file", root(single(100_000), ("comment", "hello"), ("created by", "gen.py"), ("creation date", 1700000000)))
write("multi_file", root(multi([(5, ["a.txt"]), (40000, ["sub", "b.bin"]), (7, ["sub", "c"])])))
write("zero_length_files", root(multi([(0, ["empty1"]), (20000, ["a"]), (0, ["empty2"]), (0, ["sub", "empty3"]), (20000, ["b"]), (0, ["z"])])))
write("padding_files", root(multi([(1000, ["a"]), (15384, [".pad", "15384"], "p"), (16384, ["b"]), (100, ["c"]), (16284, [".pad", "16284"], "p"), (5, ["d"])])))
# Unordered keys everywhere (root and info): real torrents like this must load,
# and the info-hash is over these bytes, not a sorted re-encoding.
unordered_info = D(("pieces", pieces(100, 16384)), ("name", "file.bin"), ("piece length", 16384), ("length", 100))
write("unordered_info", D(("info", unordered_info), ("announce", "http://127.0.0.1:6969/announce")))
with open(os.path.join(out, "unordered_info.hash"), "w") as f: f.write(hashlib.sha1(be(unordered_info)).hexdigest() + "\n")
write("duplicate_keys", root(D(("length", 100), ("name", "a"), ("name", "b"), ("piece length", 16384), ("pieces", pieces(100, 16384)))))
write("negative_piece_length", root(D(("length", 100), ("name", "file.bin"), ("piece length", -16384), ("pieces", pieces(100, 16384)))))
write("zero_piece_length", root(D(("length", 100), ("name", "file.bin"), ("piece length", 0), ("pieces", b""))))
write("missing_pieces", root(D(("length", 100), ("name", "file.bin"), ("piece length", 16384))))
write("bad_pieces_length", root(D(("length", 100), ("name", "file.bin"), ("piece length", 16384), ("pieces", b"x" * 19))))
write("piece_count_mismatch", root(D(("length", 100_000), ("name", "file.bin"), ("piece length", 16384), ("pieces", b"x" * 40))))
write("negative_file_size", root(multi([(5, ["a"]), (-5, ["b"]), (10, ["c"])])))
write("path_traversal", root(multi([(5, ["a"]), (5, ["..", "..", "etc", "passwd"])])))
write("path_absolute", root(multi([(5, ["/etc", "passwd"])])))
write("path_backslash", root(multi([(5, ["..\\..\\windows", "x"])])))
write("path_empty_component", root(multi([(5, ["a", "", "b"])])))
write("path_dot", root(multi([(5, [".", "b"])])))
write("name_traversal", root(D(("length", 100), ("name", ".."), ("piece length", 16384), ("pieces", pieces(100, 16384)))))
write("empty_path", root(multi([(5, ["a"]), (5, [])])))
write("path_collision", root(multi([(5, ["a", "b"]), (5, ["a", "b"])])))
write("file_dir_collision", root(multi([(5, ["a"]), (5, ["a", "b"])])))
write("case_variants", root(multi([(5, ["README"]), (5, ["readme"])])))
write("missing_info", D(("announce", "http://127.0.0.1:6969/announce")))
write("info_not_dict", root(b"nope"))
write("missing_name", root(D(("length", 100), ("piece length", 16384), ("pieces", pieces(100, 16384)))))
write("no_data", root(multi([(0, ["a"]), (0, ["b"])])))
write("v2_only", root(D(("file tree", D(("a", D(("", D(("length", 100), ("pieces root", b"r" * 32))))),)), ("meta version", 2), ("name", "v2"), ("piece length", 16384))))
write("trailing_garbage", be(root(single())) + b"junk")
write("truncated", be(root(single()))[:-30])
write("not_bencode", b"<html>not a torrent</html>")
write("trackers_and_seeds", D(
    ("announce", "http://127.0.0.1:1/ignored-when-list-present"),
    ("announce-list", [["http://127.0.0.1:2/a", "udp://127.0.0.1:3"], [], ["http://127.0.0.1:4/b"], [""]]),
    ("comment", b"latin-1 \xe9"), ("comment.utf-8", "utf-8 é"),
    ("httpseeds", ["http://127.0.0.1:5/seed"]),
    ("info", D(("length", 100), ("name", b"caf\xe9.bin"), ("name.utf-8", "café.bin"), ("piece length", 16384), ("pieces", pieces(100, 16384)), ("private", 1))),
    ("url-list", "http://127.0.0.1:6/ws/")))
write("url_list_list", root(single(), ("url-list", ["http://127.0.0.1:6/a/", "", "http://127.0.0.1:6/b/"])))
write("path_utf8", root(D(("files", [D(("length", 5), ("path", [b"\xff\xfe"]), ("path.utf-8", ["ünïcode"])), D(("length", 5), ("path", [b"bad\xffname"]))]), ("name", "dir"), ("piece length", 16384), ("pieces", pieces(10, 16384)))))
