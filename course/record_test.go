package course

import "testing"

func TestFindTask(t *testing.T) {
	c := fixtureCourse(t)
	if _, tk, ok := c.FindTask("ensimmainen.tehtava.tehtava-pohdi-omaa-tyotasi"); !ok || tk.Title != "Pohdi omaa työtäsi" {
		t.Fatal("task not found")
	}
	for _, k := range []string{"", "a.b", "ensimmainen.tehtava.ei-ole", "ensimmainen.alku.tehtava-pohdi-omaa-tyotasi", "x.y.z"} {
		if _, _, ok := c.FindTask(k); ok {
			t.Errorf("FindTask(%q) found something", k)
		}
	}
}

func TestMergeRanges(t *testing.T) {
	got := MergeRanges([][2]float64{{30, 40}, {0, 10}, {10.1, 20}, {35, 50}, {5, 5}, {60, 61}})
	want := [][2]float64{{0, 20}, {30, 50}, {60, 61}}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	if c := Covered(got); c != 41 {
		t.Fatalf("covered %v", c)
	}
}

func fixtureCourse(t *testing.T) *Course {
	t.Helper()
	c, problems := Load(fixtureWith(t, nil))
	if len(problems) > 0 {
		t.Fatal(problems.Error())
	}
	return c
}
