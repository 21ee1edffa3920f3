package backup

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tyokyky/tyokyky/internal/database"
	"github.com/tyokyky/tyokyky/media"
)

// benchPlatform fills a database with learners shaped like the
// platform's (an account, a session, a progress record for each of 20
// sections, 5 saved task answers) and a bucket with objects of mb MB in
// 10 MB files of random bytes (media do not compress).
func benchPlatform(b *testing.B, learners, mb int) (*database.DB, *media.ObjectStore) {
	b.Helper()
	ctx := context.Background()
	db := env.Database()
	store, err := env.Store(ctx)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	if err := db.ProbeWrite(ctx); err != nil { // as a server's store always has
		b.Fatal(err)
	}
	batches := map[string][]any{}
	flush := func(coll string, force bool) {
		if len(batches[coll]) == 0 || (!force && len(batches[coll]) < 1000) {
			return
		}
		if _, err := db.Collection(coll).InsertMany(ctx, batches[coll]); err != nil {
			b.Fatal(err)
		}
		batches[coll] = batches[coll][:0]
	}
	add := func(coll string, doc bson.D) {
		batches[coll] = append(batches[coll], doc)
		flush(coll, false)
	}
	for i := range learners {
		user := fmt.Sprintf("u%06d", i)
		add("users", bson.D{{Key: "_id", Value: user}, {Key: "email", Value: user + "@example.fi"}, {Key: "name", Value: "Oppija " + user},
			{Key: "role", Value: "learner"}, {Key: "organisation", Value: "hyvinvointialue"}, {Key: "password", Value: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA"},
			{Key: "created_at", Value: now}, {Key: "lang", Value: "fi"}})
		add("sessions", bson.D{{Key: "_id", Value: fmt.Sprintf("%064x", i)}, {Key: "user_id", Value: user}, {Key: "created_at", Value: now},
			{Key: "last_seen", Value: now}, {Key: "expires_at", Value: now.Add(7 * 24 * time.Hour)}, {Key: "user_agent", Value: "Mozilla/5.0"}, {Key: "ip", Value: "127.0.0.1"}})
		for s := range 20 {
			add("progress", bson.D{{Key: "_id", Value: fmt.Sprintf("%s|moduuli-%d/osio-%d", user, s/5, s)}, {Key: "user_id", Value: user},
				{Key: "module", Value: fmt.Sprintf("moduuli-%d", s/5)}, {Key: "section", Value: fmt.Sprintf("osio-%d", s)},
				{Key: "first_opened", Value: now}, {Key: "last_opened", Value: now}, {Key: "completed_at", Value: now},
				{Key: "seconds", Value: 300 + s}, {Key: "scroll", Value: 0.9},
				{Key: "media", Value: bson.D{{Key: "m1", Value: bson.D{{Key: "position", Value: 60.0}, {Key: "ranges", Value: bson.A{bson.D{{Key: "start", Value: 0.0}, {Key: "end", Value: 60.0}}}}, {Key: "watched", Value: 1.0}}}}}})
		}
		for a := range 5 {
			add("task_answers", bson.D{{Key: "_id", Value: fmt.Sprintf("%s|tehtava-%d", user, a)}, {Key: "user_id", Value: user},
				{Key: "task", Value: fmt.Sprintf("moduuli.osio.tehtava-%d", a)}, {Key: "text", Value: string(bytes.Repeat([]byte("Yksikössämme työkyvyn tuki alkaa puheeksiotosta. "), 8))},
				{Key: "created_at", Value: now}, {Key: "updated_at", Value: now}})
		}
	}
	for coll := range batches {
		flush(coll, true)
	}
	for i := range mb / 10 {
		data := make([]byte, 10<<20)
		rand.Read(data)
		if err := store.PutStream(ctx, fmt.Sprintf("media/item-%02d/video.mp4", i), bytes.NewReader(data), int64(len(data)), "video/mp4"); err != nil {
			b.Fatal(err)
		}
	}
	return db, store
}

// BenchmarkBackupRestore measures a backup, its verification and its
// restore of 2,000 learners with their progress and 100 MB of media, and
// of each alone:
//
//	go test ./backup -run '^$' -bench BackupRestore -benchtime 1x
//
// MB/s counts the documents' and objects' bytes, documents/s the
// documents; the restore's time includes its check of the whole archive
// before it writes.
func BenchmarkBackupRestore(b *testing.B) {
	for _, size := range []struct {
		name         string
		learners, mb int
	}{{"2000-learners", 2000, 0}, {"100MB-media", 0, 100}, {"2000-learners+100MB-media", 2000, 100},
		{"10000-learners+1GB-media", 10000, 1000}} { // the size: ~4 min with its set-up

		b.Run(size.name, func(b *testing.B) { benchBackupRestore(b, size.learners, size.mb) })
	}
}

func benchBackupRestore(b *testing.B, learners, mbytes int) {
	ctx := context.Background()
	db, store := benchPlatform(b, learners, mbytes)
	dir := b.TempDir()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		started := time.Now()
		src, err := OpenSource(ctx, SourceOptions{Live: db, WorkDir: dir})
		if err != nil {
			b.Fatal(err)
		}
		out, err := CreateFile(dir, time.Now().Add(time.Duration(i)*time.Second))
		if err != nil {
			b.Fatal(err)
		}
		m, err := Write(ctx, out, src, Options{Objects: store})
		src.Close()
		if err != nil {
			b.Fatal(err)
		}
		if err := out.Commit(ctx); err != nil {
			b.Fatal(err)
		}
		backupSecs := time.Since(started).Seconds()
		st, _ := os.Stat(out.Name())
		var data int64 = m.Counts.ObjectBytes
		for _, c := range m.Collections {
			for _, p := range c.Parts {
				data += p.Size
			}
		}

		started = time.Now()
		f, _ := os.Open(out.Name())
		rep := Verify(f)
		f.Close()
		if err := rep.Err(); err != nil {
			b.Fatal(err)
		}
		verifySecs := time.Since(started).Seconds()

		target, err := env.Store(ctx)
		if err != nil {
			b.Fatal(err)
		}
		started = time.Now()
		open := func() (io.ReadCloser, error) { return os.Open(out.Name()) }
		if _, err := Restore(ctx, open, Target{DB: env.Database(), Objects: target, KeyDir: filepath.Join(dir, "keys")}, RestoreOptions{}); err != nil {
			b.Fatal(err)
		}
		restoreSecs := time.Since(started).Seconds()
		mb, docs := float64(data)/1e6, float64(m.Counts.Documents)
		b.ReportMetric(mb/backupSecs, "backup-MB/s")
		b.ReportMetric(docs/backupSecs, "backup-docs/s")
		b.ReportMetric(mb/verifySecs, "verify-MB/s")
		b.ReportMetric(mb/restoreSecs, "restore-MB/s")
		b.ReportMetric(docs/restoreSecs, "restore-docs/s")
		b.Logf("%d documents, %d objects: %.1f MB of data, archive %.1f MB; backup %.1f s, verify %.1f s, restore %.1f s",
			m.Counts.Documents, m.Counts.Objects, mb, float64(st.Size())/1e6, backupSecs, verifySecs, restoreSecs)
		os.Remove(out.Name())
	}
}
