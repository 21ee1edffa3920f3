package media_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/tyokyky/tyokyky/media"
)

// BenchmarkUpload streams 256 MiB uploads into MinIO through the library:
// sniffing, hashing, counting and the multipart upload (without ffprobe).
// The MB/s column is the upload rate.
func BenchmarkUpload(b *testing.B) {
	store, err := env.Store(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	lib := media.NewCatalog(env.Database(), store, media.Options{
		Probe: func(context.Context, string) (*media.ProbeResult, error) { return nil, media.ErrNoProbe }})
	const size = 256 << 20
	header := []byte{0, 0, 0, 0x18, 'f', 't', 'y', 'p', 'i', 's', 'o', 'm'}
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		body := io.MultiReader(bytes.NewReader(header), io.LimitReader(zeros{}, size-int64(len(header))))
		it, err := lib.Put(b.Context(), media.Upload{Title: "Bench", Body: body})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := lib.Delete(b.Context(), it.ID, nil); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
