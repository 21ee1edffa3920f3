package course

import (
	"strings"
	"testing"
)

func TestLineDiff(t *testing.T) {
	render := func(d []DiffLine) string {
		var b strings.Builder
		for _, l := range d {
			b.WriteByte(l.Op)
			b.WriteString(l.Text)
			b.WriteByte('\n')
		}
		return b.String()
	}
	cases := []struct{ old, new, want string }{
		{"a\nb\nc\n", "a\nb\nc\n", " a\n b\n c\n"},
		{"a\nb\nc\n", "a\nx\nc\n", " a\n-b\n+x\n c\n"},
		{"", "a\nb\n", "+a\n+b\n"},
		{"a\nb\n", "", "-a\n-b\n"},
		{"a\nb\nc\nd\n", "b\nc\nd\ne\n", "-a\n b\n c\n d\n+e\n"},
		{"otsikko\n\nvanha kappale\nloppu\n", "otsikko\n\nuusi kappale\nlisäys\nloppu\n", " otsikko\n \n-vanha kappale\n+uusi kappale\n+lisäys\n loppu\n"},
	}
	for _, c := range cases {
		if got := render(LineDiff(c.old, c.new)); got != c.want {
			t.Errorf("LineDiff(%q, %q) =\n%s\nwant\n%s", c.old, c.new, got, c.want)
		}
	}
	// Line numbers on both sides.
	d := LineDiff("a\nb\nc\n", "a\nc\nd\n")
	if d[1].Op != '-' || d[1].Old != 2 || d[2].Op != ' ' || d[2].Old != 3 || d[2].New != 2 || d[3].New != 3 {
		t.Fatalf("numbers = %+v", d)
	}
	// Every line of both texts appears once, in order.
	old, nw := strings.Repeat("x\ny\n", 300), strings.Repeat("y\nx\nz\n", 200)
	var gotOld, gotNew []string
	for _, l := range LineDiff(old, nw) {
		if l.Op != '+' {
			gotOld = append(gotOld, l.Text)
		}
		if l.Op != '-' {
			gotNew = append(gotNew, l.Text)
		}
	}
	if strings.Join(gotOld, "\n")+"\n" != old || strings.Join(gotNew, "\n")+"\n" != nw {
		t.Fatal("the diff does not reproduce both texts")
	}
}

func TestRewriteModuleLists(t *testing.T) {
	in := "laws:\n  - id: 1/2020\n    modules:\n      - 01-a\n      - \"b\"\n      - 03-c\n    name: x # modules: [01-a]\n  - modules: [01-a, 02-b]\n    summary: \"modules: [01-a] stays\"\n  - modules: [\"01-a\"]\n"
	names := map[string]bool{"01-a": true, "a": true}
	renamed := rewriteModuleLists(in, names, func(n string) string {
		if n == "01-a" {
			return "01-x"
		}
		return "x"
	})
	want := "laws:\n  - id: 1/2020\n    modules:\n      - 01-x\n      - \"b\"\n      - 03-c\n    name: x # modules: [01-a]\n  - modules: [01-x, 02-b]\n    summary: \"modules: [01-a] stays\"\n  - modules: [\"01-x\"]\n"
	if renamed != want {
		t.Errorf("renamed:\n%s\nwant:\n%s", renamed, want)
	}
	dropped := rewriteModuleLists(in, names, func(string) string { return "" })
	want = "laws:\n  - id: 1/2020\n    modules:\n      - \"b\"\n      - 03-c\n    name: x # modules: [01-a]\n  - modules: [02-b]\n    summary: \"modules: [01-a] stays\"\n  - modules: []\n"
	if dropped != want {
		t.Errorf("dropped:\n%s\nwant:\n%s", dropped, want)
	}
}
