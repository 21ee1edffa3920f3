package api_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/tyokyky/tyokyky/api"
	"github.com/tyokyky/tyokyky/media"
)

// BenchmarkRangeTTFB is the time from sending a Range request for 64 KiB
// in the middle of a 32 MiB video to its first byte, through both delivery
// modes: presign (this server's redirect, then MinIO) and proxy (this
// server streaming from MinIO). It reports the median and p99.
func BenchmarkRangeTTFB(b *testing.B) {
	for _, mode := range []string{api.DeliverPresigned, api.DeliverProxy} {
		b.Run(mode, func(b *testing.B) {
			r := startOpts(b, fixture(b), func(o *api.Options, m *media.Options) {
				o.MediaDelivery = mode
				m.Probe = func(context.Context, string) (*media.ProbeResult, error) { return nil, media.ErrNoProbe }
			})
			data := make([]byte, 32<<20)
			for i := range data {
				data[i] = byte(i * 7)
			}
			copy(data, []byte{0, 0, 0, 0x18, 'f', 't', 'y', 'p', 'i', 's', 'o', 'm'})
			if _, err := r.media.Put(b.Context(), media.Upload{ID: "m-testivideo", Title: "Bench", Body: bytes.NewReader(data)}); err != nil {
				b.Fatal(err)
			}
			if err := r.media.Refresh(b.Context()); err != nil {
				b.Fatal(err)
			}
			client := &http.Client{}
			lat := make([]time.Duration, 0, b.N)
			buf := make([]byte, 64<<10)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				req, _ := http.NewRequest("GET", r.URL+"/media/m-testivideo/tiedosto", nil)
				req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", 16<<20, 16<<20+len(buf)-1))
				resp, err := client.Do(req) // follows the redirect in presign mode
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(resp.Body, buf[:1]); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
				if resp.StatusCode != 206 {
					b.Fatalf("status %d", resp.StatusCode)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			b.StopTimer()
			p50, p99 := percentiles(lat)
			b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
		})
	}
}

func percentiles(d []time.Duration) (p50, p99 time.Duration) {
	if len(d) == 0 {
		return 0, 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[len(d)/2], d[len(d)*99/100]
}
