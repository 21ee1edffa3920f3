package course_test

import (
	"sort"
	"testing"
	"time"

	"github.com/tyokyky/tyokyky/content"
	"github.com/tyokyky/tyokyky/course"
)

func bundled(t testing.TB) *course.Course {
	t.Helper()
	c, problems := course.Load(content.Bundled())
	if len(problems) > 0 {
		t.Fatal(problems.Error())
	}
	return c
}

func TestGlossarySearchRelevance(t *testing.T) {
	ix := bundled(t).Glossary
	cases := []struct {
		kind, q, want string
	}{
		{"exact", "työkyky", "tyokyky"},
		{"exact, capitals", "TYÖKYKY", "tyokyky"},
		{"without diacritics", "tyokyky", "tyokyky"},
		{"prefix", "osatyök", "osatyokykyisyys"},
		{"prefix of a compound", "työkykyjoh", "tyokykyjohtaminen"},
		{"typo", "työkykyjohtamnen", "tyokykyjohtaminen"},
		{"transposed letters", "kuntotus", "kuntoutus"},
		{"typo, two", "osasairauspaivarha", "osasairauspaivaraha"},
		{"inflected", "työkyvyn", "tyokyky"},
		{"inflected phrase", "työkyvyn tuen", "tyokyvyn-tuki"},
		{"inflected plural", "osatyökykyisille", "osatyokykyisyys"},
		{"inflected, stemmed", "kuntoutuksessa", "kuntoutus"},
		{"synonym", "TYP", "tyollistymista-edistava-monialainen-yhteispalvelu"},
		{"Swedish", "arbetsförmåga", "tyokyky"},
		{"English", "work ability", "tyokyky"},
		{"English prefix", "vocational rehab", "ammatillinen-kuntoutus"},
	}
	for _, c := range cases {
		hits := ix.Search(c.q, 5)
		if len(hits) == 0 || hits[0].Concept.ID != c.want {
			got := []string{}
			for _, h := range hits {
				got = append(got, h.Concept.ID)
			}
			t.Errorf("%s: %q → %v, want %s first", c.kind, c.q, got, c.want)
		}
	}
	// A preferred term beats a concept that merely mentions the word.
	hits := ix.Search("kuntoutus", 10)
	if hits[0].Concept.ID != "kuntoutus" {
		t.Errorf("kuntoutus → %s first", hits[0].Concept.ID)
	}
	for _, q := range []string{"", "  ", "x", "qqqqzzzz"} {
		if hits := ix.Search(q, 5); len(hits) != 0 {
			t.Errorf("%q found %d", q, len(hits))
		}
	}
}

func BenchmarkGlossarySearch(b *testing.B) {
	ix := bundled(b).Glossary
	queries := []string{"työkyky", "osatyök", "työkykyjohtamnen", "työkyvyn tuen", "arbetsförmåga", "kuntoutuksessa", "TYP", "qqqq"}
	lat := make([]time.Duration, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		ix.Search(queries[i%len(queries)], 10)
		lat[i] = time.Since(start)
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
