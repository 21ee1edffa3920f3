package api

import (
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/tyokyky/tyokyky/course"
)

// benchGet runs the full middleware chain and handler for one path, as a
// request from the network would, without the socket.
func benchGet(b *testing.B, path string) {
	c, problems := course.Load(os.DirFS("../course/testdata/course"))
	if len(problems) > 0 {
		b.Fatal(problems.Error())
	}
	s, err := New(Options{BaseURL: "http://localhost", Library: course.NewStaticLibrary(&course.Published{Version: 1, Course: c}), Logger: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		b.Fatal(err)
	}
	h := s.app.Handler()
	var ctx fasthttp.RequestCtx
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ctx.Request.Reset()
		ctx.Response.Reset()
		ctx.Request.SetRequestURI(path)
		ctx.Request.Header.SetMethod("GET")
		h(&ctx)
		if ctx.Response.StatusCode() != 200 {
			b.Fatalf("%s = %d", path, ctx.Response.StatusCode())
		}
	}
}

func BenchmarkSectionPage(b *testing.B) { benchGet(b, "/osiot/ensimmainen/alku") }
func BenchmarkSectionAPI(b *testing.B)  { benchGet(b, "/api/v1/modules/ensimmainen/sections/alku") }
func BenchmarkHomePage(b *testing.B)    { benchGet(b, "/") }
func BenchmarkLivez(b *testing.B)       { benchGet(b, "/livez") }
func BenchmarkStaticAsset(b *testing.B) { benchGet(b, "/static/app.css") }
