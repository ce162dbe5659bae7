//! The two-thread EDN reader (a second thread reads from a seam part way
//! into the file) gives exactly what the one-thread reader gives, ops,
//! lines and errors, wherever the seam falls: on an op map, inside a
//! string or a nested value that spans lines, in a comment, in broken
//! text.

use super::assert_same_read;
use super::fast_paths::{edn_value, op_map};
use checkers::format::{read, read_path, read_split_at, Format};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A history whose maps mostly have `:index` (without one, the second
/// thread gives up), with lines that look like seams but are not.
fn history(rng: &mut ChaCha8Rng, ops: usize) -> String {
    let mut out = String::new();
    for i in 0..ops {
        let kind = if i % 2 == 0 { "invoke" } else { "ok" };
        let map = op_map(rng, (i / 2 % 3) as u64, kind);
        let map = if rng.gen_bool(0.9) {
            format!("{{:index {i} {}", &map[1..])
        } else {
            map
        };
        out.push_str(&map);
        out.push_str(match rng.gen_range(0..10) {
            0 => "\n ; {:index 1 :process 0 :type :ok :f :x}\n",
            1 => "\n, ",
            2 => "\r\n",
            _ => "\n",
        });
        if rng.gen_bool(0.05) {
            // A map whose value spans lines, with a line starting `{`.
            out.push_str(&format!(
                "{{:index {i} :process 1 :type :info :f :x :value \"a\n{{:index 0 :process 0 :type :ok :f :y}}\"}}\n"
            ));
        }
        if rng.gen_bool(0.03) {
            out.push_str(&format!("{}\n", edn_value(rng, 0)));
        }
    }
    if rng.gen_bool(0.3) {
        out = format!("[{out}]\n");
    }
    if rng.gen_bool(0.1) {
        let cut = rng.gen_range(0..out.len());
        if out.is_char_boundary(cut) {
            out.truncate(cut);
        }
    }
    out
}

fn compare(text: &[u8], at: usize, format: Format) {
    let one = read(text, "h", format);
    let two = read_split_at(text, at, "h", format);
    let what = format!("one thread vs two, seam at {at}");
    assert_same_read(&what, &one, &two, text);
}

#[test]
fn two_threads_read_what_one_reads_wherever_the_seam_falls() {
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    for round in 0..300 {
        let ops = rng.gen_range(1..12);
        let text = history(&mut rng, ops);
        let format = if round % 5 == 0 {
            Format::PorcupineKv
        } else {
            Format::Edn
        };
        for at in 0..=text.len() + 1 {
            compare(text.as_bytes(), at, format);
        }
    }
}

#[test]
fn a_large_file_is_read_on_two_threads_as_on_one() {
    let dir = std::env::temp_dir().join(format!("temblor-split-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for (name, vector) in [("bare.edn", false), ("vector.edn", true)] {
        let mut text = String::from(if vector { "[" } else { "" });
        let mut i = 0;
        while text.len() < 5 << 20 {
            text.push_str(&format!(
                "{{:index {i}, :time {i}, :type :invoke, :process {}, :f :txn, :value [[:append {} {i}] [:r {} nil]]}}\n",
                i % 20,
                rng.gen_range(0..10),
                rng.gen_range(0..10)
            ));
            i += 1;
        }
        text.push_str(if vector { "]\n" } else { "" });
        let path = dir.join(name);
        std::fs::write(&path, &text).unwrap();
        let one = read(text.as_bytes(), &path.display().to_string(), Format::Edn).unwrap();
        let two = read_path(&path, None).unwrap();
        assert_eq!(one.len(), i);
        assert_eq!(one.ops, two.ops);
        assert_eq!(one.lines, two.lines);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
