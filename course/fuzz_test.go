package course

import (
	"strings"
	"testing"
)

// FuzzFrontmatter: splitting and strictly decoding any file never panics,
// and every problem has a position inside the file.
func FuzzFrontmatter(f *testing.F) {
	for _, seed := range []string{
		"---\ntitle: T\nminutes: 5\n---\nbody\n",
		"---\ntitle: T\nminutes: x\n---\n",
		"---\ntitle: [\n---\n",
		"---\nunknown: 1\n---\n",
		"---\n---\n",
		"---\ntitle: T",
		"no frontmatter",
		"---\r\ntitle: T\r\n---\r\n",
		"---\nmedia: {a: b}\ncompletion: [x]\n---\n",
		"\ufeff---\ntitle: T\n---\n",
		"---\n&a [*a]\n---\n",
		"---\ntitle: !!binary x\n---\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, src string) {
		front, body, bodyLine, err := SplitFrontmatter([]byte(src))
		if err != nil {
			return
		}
		if bodyLine < 2 || len(front)+len(body) > len(src) {
			t.Fatalf("bodyLine %d, %d+%d bytes of %d", bodyLine, len(front), len(body), len(src))
		}
		var s Section
		lines := strings.Count(src, "\n") + 2
		for _, p := range decodeStrict("x.md", front, 2, &s) {
			if p.Line < 1 || p.Line > lines || p.Col < 1 || p.Msg == "" {
				t.Fatalf("problem out of the file: %+v (file has %d lines)", p, lines)
			}
		}
	})
}

// FuzzRender: rendering any Markdown never panics and never lets script or
// a dangerous URL through; every issue is inside the source.
func FuzzRender(f *testing.F) {
	for _, seed := range xssCorpus {
		f.Add(seed)
	}
	for _, seed := range []string{
		":::tehtava[a]{vastaus}\nx\n:::ohje\ny\n:::\n:::\n",
		":::info\n:::info\n:::\n",
		":::\n",
		"::video[x]{#m-video}\n",
		"::kuva[x]{src=\"kuvat/kaavio.svg\" alt=\"y\"}\n",
		"[a](laki:612/2021#10) [b](sanasto:tyokyky) [c](02-toinen.md#x)\n",
		"| a | b |\n|:-|-:|\n| 1 | 2 |\n",
		"x[^1]\n\n[^1]: y\n",
		"T\n: d\n",
		"# H1\n## H2\n## H2\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, src string) {
		r, issues := Render([]byte(src), testEnv())
		if bad := unsafe(r.HTML); bad != "" {
			t.Fatalf("unsafe output %q from %q:\n%s", bad, src, r.HTML)
		}
		for _, is := range issues {
			if is.Offset < 0 || is.Offset > len(src) {
				t.Fatalf("issue offset %d outside %d bytes: %s", is.Offset, len(src), is.Msg)
			}
		}
	})
}
