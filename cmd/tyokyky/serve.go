package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/api"
	"github.com/tyokyky/tyokyky/assign"
	"github.com/tyokyky/tyokyky/backup"
	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/erasure"
	"github.com/tyokyky/tyokyky/exam"
	"github.com/tyokyky/tyokyky/exam/cert"
	"github.com/tyokyky/tyokyky/feedback"
	"github.com/tyokyky/tyokyky/internal/config"
	"github.com/tyokyky/tyokyky/internal/database"
	"github.com/tyokyky/tyokyky/internal/metrics"
	"github.com/tyokyky/tyokyky/internal/minioproc"
	"github.com/tyokyky/tyokyky/internal/poll"
	"github.com/tyokyky/tyokyky/lti"
	"github.com/tyokyky/tyokyky/mail"
	"github.com/tyokyky/tyokyky/media"
	"github.com/tyokyky/tyokyky/org"
	"github.com/tyokyky/tyokyky/report"
	"github.com/tyokyky/tyokyky/sso"
	"github.com/tyokyky/tyokyky/studio"
	"github.com/tyokyky/tyokyky/study"
	"github.com/tyokyky/tyokyky/xapi"
)

// loadConfig parses and validates; on a problem it prints one line per
// problem and returns the exit code to use.
func loadConfig(name string, args []string, getenv func(string) string, stderr io.Writer) (*config.Config, int) {
	cfg, rest, err := config.Parse("tyokyky "+name, args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil, exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "tyokyky: %v\n", err)
		return nil, exitUsage
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "tyokyky: unexpected argument %q\n", rest[0])
		return nil, exitUsage
	}
	if problems := append(cfg.Problems(), smtpProblems(cfg)...); len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintf(stderr, "tyokyky: config: %s\n", p)
		}
		return nil, exitUsage
	}
	return cfg, -1
}

func serve(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	started := time.Now()
	cfg, code := loadConfig("serve", args, getenv, stderr)
	if cfg == nil {
		return code
	}
	ln, err := cfg.Bind()
	if err != nil {
		fmt.Fprintf(stderr, "tyokyky: config: %v\n", err)
		return exitUsage
	}
	defer ln.Close()
	log := cfg.Logger(stderr)
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(signals)
	// ctx lives until the server has stopped (background jobs keep
	// running while it drains); a signal during start-up cancels it.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	startDone := make(chan struct{})
	var early os.Signal
	go func() {
		select {
		case early = <-signals:
			cancel()
		case <-startDone:
		}
	}()
	p, err := start(ctx, cfg, log, ln, stdout)
	close(startDone)
	if err != nil && ctx.Err() != nil {
		// A signal during start-up (e.g. while waiting for another
		// instance's schema migrations) stops the start; not a failure.
		log.Info("stopping: a signal came during start-up", "during", err)
		return exitOK
	}
	if err != nil {
		log.Error("start-up failed", "err", err)
		return exitFailure
	}
	defer p.close(log)
	if early != nil {
		log.Info("stopping: a signal came during start-up")
		return exitOK
	}

	warm := p.server.WarmUp("/", "/kirjaudu", "/tentti", "/readyz")
	p.starting.Stop() // the listener is the server's from here
	errc := make(chan error, 1)
	go func() { errc <- p.server.Serve(ln) }()
	log.Info("ready", "url", cfg.BaseURL, "listen", ln.Addr().String(), "version", versionString(),
		"database", p.dbKind, "storage", p.storageEndpoint, "startup", time.Since(started).Round(time.Millisecond), "warm_up", warm.Round(time.Millisecond),
		"steps", p.steps.String())
	fmt.Fprintf(stdout, "Työkyky is running at %s (Ctrl-C stops it)\n", cfg.BaseURL)

	select {
	case sig := <-signals:
		// Draining: /readyz answers 503 at once so that load balancers
		// take the instance out; for the drain delay it still accepts
		// new connections (SIGTERM only: Ctrl-C at a terminal stops at
		// once, and a second signal cuts the delay short).
		p.server.SetDraining()
		if delay := cfg.Drain(); sig == syscall.SIGTERM && delay > 0 {
			log.Info("draining", "delay", delay)
			select {
			case <-time.After(delay):
			case <-signals:
			}
		}
		log.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	case err := <-errc:
		log.Error("HTTP server stopped", "err", err)
		return exitFailure
	case <-p.minioGaveUp():
		log.Error("the MinIO child process could not be kept running; stopping")
		p.server.SetDraining()
		_ = p.server.Shutdown(cfg.ShutdownTimeout)
		return exitFailure
	}
	if err := p.server.Shutdown(cfg.ShutdownTimeout); err != nil {
		log.Warn("shutdown", "err", err)
	}
	return exitOK
}

// platform is everything serve starts, in the order it stops it.
type platform struct {
	// starting answers on the listener until the server takes it over.
	starting        *api.Starting
	server          *api.Server
	db              *database.DB
	minio           *minioproc.Process
	dbKind          string
	storageEndpoint string
	// steps is how long each start-up step took (in the ready line).
	steps stepTimer
	// firstPasses are the background jobs' first runs begun at start
	// (completing exam submissions a crash cut short, certificates owed
	// for passed attempts): they run while the server serves, and a stop
	// waits for them (see close).
	firstPasses sync.WaitGroup
}

// firstPassesWait bounds how long a stop waits for the first passes.
const firstPassesWait = 10 * time.Second

// stepTimer notes how long each start-up step took.
type stepTimer struct {
	last  time.Time
	steps []string
}

func (s *stepTimer) done(name string) {
	now := time.Now()
	s.steps = append(s.steps, name+"="+now.Sub(s.last).Round(time.Millisecond).String())
	s.last = now
}

func (s *stepTimer) String() string { return strings.Join(s.steps, " ") }

func (p *platform) minioGaveUp() <-chan struct{} {
	if p.minio == nil {
		return nil
	}
	return p.minio.GaveUp()
}

func (p *platform) close(log *slog.Logger) {
	p.starting.Stop()
	// A stop soon after a start lets the first passes finish, so that a
	// start always leaves what it found repaired (the next start, perhaps
	// of another version, meets none of it).
	passed := make(chan struct{})
	go func() { p.firstPasses.Wait(); close(passed) }()
	select {
	case <-passed:
	case <-time.After(firstPassesWait):
		log.Warn("stopping before the start's first repairs finished; the next start does them")
	}
	if p.db != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := p.db.Close(ctx); err != nil {
			log.Warn("closing the database", "err", err)
		}
		cancel()
	}
	if p.minio != nil {
		p.minio.Stop(10 * time.Second)
	}
	log.Info("stopped")
}

// start brings up the object store, the database and the HTTP server.
func start(ctx context.Context, cfg *config.Config, log *slog.Logger, ln net.Listener, stdout io.Writer) (_ *platform, err error) {
	// Everything started here runs in the background (workers, sweepers,
	// outboxes): its writes give way to requests' writes at the embedded
	// store's gate. Requests bring contexts of their own.
	ctx = database.Background(ctx)
	m := metrics.New()
	p := &platform{steps: stepTimer{last: time.Now()}}
	defer func() {
		if err != nil {
			p.close(log)
		}
	}()

	// The database first: the embedded store's lock on the data folder is
	// taken before anything else starts (a second server on one folder
	// stops here, having started nothing).
	p.db, err = database.Open(ctx, database.Options{
		URI:             cfg.MongoURI,
		Database:        cfg.MongoDatabase,
		Dir:             cfg.DBDir(),
		Logger:          log,
		OnCommandFailed: m.DatabaseError,
		OnCommand:       m.DatabaseCommand,
		OnGatedWrite:    m.GatedWrite,
		OnCheckpoint:    m.Checkpointed,
	})
	if err != nil {
		return nil, err
	}
	p.steps.done("database")
	// Until the server serves, the listener answers /readyz with 503 and
	// what the instance waits for. The schema is brought up to date before
	// anything else starts (a database a newer binary migrated stops the
	// start here).
	p.starting = api.ServeStarting(ln, versionString(), "checking the schema")
	if err := migrateSchema(ctx, p.db, p.starting, log); err != nil {
		return nil, err
	}
	p.steps.done("schema")
	storeOpts := media.ObjectStoreOptions{
		Endpoint:  cfg.S3Endpoint,
		Region:    cfg.S3Region,
		AccessKey: cfg.S3AccessKey,
		SecretKey: cfg.S3SecretKey,
		Bucket:    cfg.S3Bucket,
		PublicURL: cfg.S3PublicURL,
		OnError:   m.StorageError,
	}
	if cfg.S3Endpoint == "" {
		p.minio, err = minioproc.Start(ctx, minioproc.Options{Bin: cfg.MinIOBin, Dir: cfg.MinIODir(), Logger: log})
		if err != nil {
			return nil, err
		}
		// A MinIO that exits is restarted on the same address; meanwhile
		// /readyz names the storage as down and everything that needs no
		// object store goes on.
		sup := minioproc.DefaultSupervision
		sup.OnChange = func(up bool) {
			if up {
				m.MinIORestarts.Inc()
			}
		}
		p.minio.Supervise(ctx, sup)
		storeOpts.Endpoint = p.minio.Endpoint()
		storeOpts.AccessKey = p.minio.Credentials.AccessKey
		storeOpts.SecretKey = p.minio.Credentials.SecretKey
	}
	p.storageEndpoint = storeOpts.Endpoint
	objects, err := media.NewObjectStore(storeOpts)
	if err != nil {
		return nil, err
	}
	bctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	err = objects.EnsureBucket(bctx)
	cancel()
	if err != nil {
		return nil, err
	}
	p.steps.done("objects")

	p.dbKind = "mongodb"
	if p.db.Embedded != nil {
		p.dbKind = "embedded ferretdb (" + cfg.DBDir() + ")"
	}
	if err := ensureIndexes(ctx, p.db); err != nil {
		return nil, err
	}
	p.steps.done("indexes")
	store := studio.NewStore(p.db)
	res, err := importContent(ctx, store, contentFS(cfg.ContentDir), "startup")
	if err != nil {
		return nil, fmt.Errorf("course content: %w", err)
	}
	if len(res.Changed)+len(res.Deleted) > 0 {
		log.Info("content imported", "changed", len(res.Changed), "deleted", len(res.Deleted), "version", res.Version)
	}
	library, err := course.NewLibrary(ctx, store, log)
	if err != nil {
		return nil, err
	}
	go library.Follow(ctx, 2*time.Second)
	p.steps.done("content")

	accounts := account.NewStore(p.db)
	if err := firstAdmin(ctx, accounts, cfg, stdout); err != nil {
		return nil, err
	}
	go expireSessions(ctx, accounts, log)
	// The other instances' (and the command line's) changes to sessions
	// and accounts, read every two seconds: sessions are then trusted
	// for up to a minute instead of being read again every five seconds.
	go poll.Every(ctx, account.RevocationsEvery, log, "reading session revocations", accounts.ReadRevocations)
	progress := study.NewProgress(p.db, study.Keys(func() ([]string, []string) {
		if pub := library.Current(); pub != nil {
			return pub.Course.RecordKeys()
		}
		return nil, nil
	}))
	// Progress at addresses the studio renamed follows them (again for a
	// while after each change: other instances may lag a poll behind).
	go progress.KeepUpWithRedirects(ctx, library, time.Minute, 10*time.Minute, log)
	// Receipts of offline items are kept 90 days: once a day per
	// instance (the first an hour after start), one at a time.
	receiptsHolder, receiptsPurged := account.NewID(), time.Time{}
	go poll.Every(ctx, time.Hour, log, "deleting old receipts of offline items", func(ctx context.Context) error {
		if time.Since(receiptsPurged) < 24*time.Hour {
			return nil
		}
		if ok, err := p.db.Lease(ctx, "sync-receipts", receiptsHolder, time.Hour); !ok || err != nil {
			return err
		}
		defer p.db.Release(context.WithoutCancel(ctx), "sync-receipts", receiptsHolder)
		receiptsPurged = time.Now()
		n, err := progress.PurgeReceipts(ctx, time.Now().Add(-study.ReceiptsKept))
		if n > 0 {
			log.Info("old receipts of offline items deleted", "count", n)
		}
		return err
	})
	inbox := feedback.NewStore(p.db)
	exams := exam.NewStore(p.db, log)
	go exams.RunSweeper(ctx, 15*time.Second)
	p.steps.done("accounts")
	// Submissions a crash cut short are completed from their results: at
	// once, beside serving (it reads every learner's exam record; a learner
	// who comes meanwhile has the own record completed by Start), and every
	// few minutes (another instance may have died).
	p.firstPasses.Go(func() {
		if n, err := exams.Repair(ctx); err != nil {
			log.Warn("completing exam submissions cut short", "err", err)
		} else if n > 0 {
			log.Info("exam submissions cut short were completed", "count", n)
		}
	})
	go poll.Every(ctx, 5*time.Minute, log, "completing exam submissions cut short", func(ctx context.Context) error {
		_, err := exams.Repair(ctx)
		return err
	})
	outbox, err := startMail(ctx, cfg, p.db, accounts, func(r string) { m.Mail.WithLabelValues(r).Inc() }, log)
	if err != nil {
		return nil, err
	}
	certs, err := certificates(ctx, cfg, p.db, library, accounts, exams, outbox, &p.firstPasses, log)
	if err != nil {
		return nil, fmt.Errorf("certificates: %w", err)
	}
	p.steps.done("certificates")
	mediaLib := media.NewCatalog(p.db, objects, media.Options{MaxSize: cfg.MaxUploadSize(), Logger: log})
	if err := mediaLib.Refresh(ctx); err != nil {
		return nil, err
	}
	go mediaLib.Follow(ctx, 2*time.Second)
	p.steps.done("media")
	keySecret, _ := cfg.CertSecret() // checked at start-up already
	directory := org.NewDirectory(p.db)
	tool, err := ltiTool(ctx, cfg, p.db, accounts, directory, lti.Sources{Course: func() *course.Course {
		if pub := library.Current(); pub != nil {
			return pub.Course
		}
		return nil
	}, Progress: progress, Attempts: exams}, log)
	if err != nil {
		return nil, fmt.Errorf("lti: %w", err)
	}
	assigned := assign.NewStore(p.db)
	learningRecords := xapiService(ctx, cfg, p.db, keySecret, library, progress, exams, certs, accounts, log)
	learningRecords.Follow(progress, exams, certs)
	// The reports read only the accounts' summaries, which follow every
	// change the stores make (recomputed by Run) and a daily sweep.
	summaries := report.NewSummaries(p.db, report.Sources{Accounts: accounts, Progress: progress, Exam: exams, Certs: certs, Course: func() *course.Course {
		if pub := library.Current(); pub != nil {
			return pub.Course
		}
		return nil
	}}, log)
	summaries.Follow()
	m.WatchSummaries(summaries.Held)
	go summaries.Run(ctx)
	go func() {
		if err := summaries.Warm(ctx); err != nil && ctx.Err() == nil {
			log.Warn("reading the report summaries", "err", err)
		}
	}()
	go sweepSummaries(ctx, summaries, accounts, account.NewID(), log)
	opts := api.Options{
		Logger:        log,
		Metrics:       m,
		Database:      p.db,
		Storage:       objects,
		BaseURL:       cfg.BaseURL,
		StorageOrigin: objects.PublicOrigin(),
		Library:       library,
		Studio:        store,
		Accounts:      accounts,
		Progress:      progress,
		Feedback:      inbox,
		Media:         mediaLib,
		Exam:          exams,
		Certificates:  certs,
		Mail:          outbox,
		Directory:     directory,
		Assign:        assigned,
		Summaries:     summaries,
		SSO: sso.New(sso.Options{Directory: directory, Accounts: accounts, DB: p.db, KeySecret: keySecret,
			BaseURL: cfg.BaseURL, Logger: log}),
		LTI:           tool,
		XAPI:          learningRecords,
		MediaDelivery: cfg.MediaDelivery,
		MediaURLTTL:   cfg.URLTTL(),
		Version:       versionString(),
	}
	if cfg.RetentionDays > 0 {
		r := &retention{accounts: accounts, erase: erasure.Stores{Accounts: accounts, Progress: progress, Feedback: inbox, Exam: exams, Certificates: certs, Mail: outbox, LTI: tool, Assign: assigned, XAPI: learningRecords}.Erase, after: time.Duration(cfg.RetentionDays) * 24 * time.Hour,
			holder: account.NewID(), log: log, now: time.Now}
		go r.run(ctx)
	}
	reminderAfter, _ := cfg.Reminder()
	rem := &reminders{accounts: accounts, progress: progress, library: library, exam: exams, outbox: outbox, baseURL: strings.TrimRight(cfg.BaseURL, "/"),
		after: reminderAfter, holder: account.NewID(), log: log, now: time.Now}
	go rem.run(ctx)
	areminders := &assignmentReminders{accounts: accounts, progress: progress, certs: certs, library: library, dir: directory, assign: assigned, outbox: outbox,
		baseURL: strings.TrimRight(cfg.BaseURL, "/"), holder: account.NewID(), log: log, now: time.Now}
	go areminders.run(ctx)
	if cfg.BackupDir != "" {
		sched, err := scheduledBackups(ctx, cfg, p.db, objects, storeOpts, log)
		if err != nil {
			return nil, err
		}
		opts.Backup = sched.Status
		m.WatchBackups(func() time.Time { return sched.Status().LastSuccess })
		go sched.Run(ctx)
	}
	p.server, err = api.New(opts)
	if err != nil {
		return nil, err
	}
	p.steps.done("services")
	return p, nil
}

// scheduledBackups sets up the backups TYOKYKY_BACKUP_DIR asks for.
func scheduledBackups(ctx context.Context, cfg *config.Config, db *database.DB, objects *media.ObjectStore, storeOpts media.ObjectStoreOptions, log *slog.Logger) (*backup.Scheduler, error) {
	every, keep, err := cfg.BackupSchedule()
	if err != nil {
		return nil, err
	}
	var to backup.Destination = backup.Dir(cfg.BackupDir)
	if bucket, prefix, isS3, err := backup.ParseS3(cfg.BackupDir); err != nil {
		return nil, fmt.Errorf("backup-dir: %w", err)
	} else if isS3 {
		storeOpts.Bucket = bucket
		target, err := media.NewObjectStore(storeOpts)
		if err != nil {
			return nil, fmt.Errorf("backup-dir: %w", err)
		}
		to = backup.Bucket{Store: target, Prefix: prefix}
	}
	return &backup.Scheduler{DB: db, Objects: objects, To: to, Every: every, Keep: keep, AppVersion: versionString(),
		Source: backup.SourceOptions{URI: cfg.MongoURI, Database: cfg.MongoDatabase, StoreDir: cfg.DBDir(), WorkDir: cfg.DataDir, Logger: log},
		Holder: account.NewID(), Log: log.With("job", "backup")}, nil
}

// firstAdmin creates an administrator when the database has no accounts
// and prints the credentials once.
func firstAdmin(ctx context.Context, accounts *account.Store, cfg *config.Config, stdout io.Writer) error {
	some, err := accounts.Any(ctx)
	if err != nil || some {
		return err
	}
	password := account.GeneratePassword()
	u, errs := accounts.Register(ctx, account.Registration{Email: cfg.AdminEmail, Name: "Ylläpitäjä", Password: password,
		Organisation: account.OtherOrganisation, OrganisationOther: "Ylläpito", Role: account.RoleAdmin})
	if len(errs) > 0 {
		if errors.Is(errs[0], account.ErrEmailTaken) { // another instance was first
			return nil
		}
		return fmt.Errorf("first admin: %v", errs)
	}
	fmt.Fprintf(stdout, "\nFirst administrator created (shown only this once):\n  email:    %s\n  password: %s\nSign in at %s/kirjaudu and set up two-factor authentication.\n\n", u.Email, password, cfg.BaseURL)
	return nil
}

// expireSessions removes ended sessions every hour.
func expireSessions(ctx context.Context, accounts *account.Store, log *slog.Logger) {
	poll.Every(ctx, time.Hour, log, "removing expired sessions", func(ctx context.Context) error {
		_, err := accounts.DeleteExpiredSessions(ctx)
		return err
	})
}

// ltiTool starts the LTI tool: its keys loaded (the first one made) and
// read again every minute (a rotation by another process), the
// platforms' key sets refreshed until ctx ends; every minute one
// instance (under a lease) reconciles the learners' scores from src into
// the score outbox, and every instance sends the outbox's due scores;
// every hour one instance reads the course rosters of the platforms that
// allow it.
func ltiTool(ctx context.Context, cfg *config.Config, db *database.DB, accounts *account.Store, directory *org.Directory, src lti.Sources, log *slog.Logger) (*lti.Service, error) {
	keys, err := ltiKeys(cfg, db)
	if err != nil {
		return nil, err
	}
	if err := keys.Load(ctx); err != nil {
		return nil, err
	}
	go poll.Every(ctx, time.Minute, log, "reading the LTI tool's keys", keys.Refresh)
	allow, _ := cfg.Outbound() // checked at start-up already
	svc := lti.New(lti.Options{DB: db, Accounts: accounts, Directory: directory, Keys: keys, BaseURL: cfg.BaseURL, Allow: allow, Logger: log})
	context.AfterFunc(ctx, svc.Close)
	holder := account.NewID()
	go poll.Every(ctx, time.Minute, log, "reporting scores to the learning platforms", func(ctx context.Context) error {
		if ok, err := db.Lease(ctx, "lti-scores", holder, 5*time.Minute); !ok || err != nil {
			return err
		}
		defer db.Release(context.WithoutCancel(ctx), "lti-scores", holder)
		if _, err := svc.Reconcile(ctx, src.ScoreOf); err != nil {
			return err
		}
		_, err := svc.PurgeScores(ctx, 30*24*time.Hour)
		return err
	})
	go svc.SendScores(ctx, 5*time.Second)
	go poll.Every(ctx, time.Hour, log, "reading the learning platforms' course rosters", func(ctx context.Context) error {
		if ok, err := db.Lease(ctx, "lti-rosters", holder, 30*time.Minute); !ok || err != nil {
			return err
		}
		defer db.Release(context.WithoutCancel(ctx), "lti-rosters", holder)
		_, err := svc.SyncRosters(ctx)
		return err
	})
	return svc, nil
}

// xapiService starts the learning records: every instance queues the
// statements of the learners it saw change something (Run) and sends the
// outbox's due statements (Send); every ten minutes one instance (under a
// lease) queues what every learner's records make that is not queued yet
// (what a stopped instance did not get to) and purges what was given up
// over 30 days ago.
func xapiService(ctx context.Context, cfg *config.Config, db *database.DB, keySecret []byte, library *course.Library, progress *study.Progress, exams *exam.Store,
	certs *cert.Store, accounts *account.Store, log *slog.Logger) *xapi.Service {
	platform := ""
	if pub := library.Current(); pub != nil {
		platform = pub.Course.Meta.Title
	}
	allow, _ := cfg.Outbound() // checked at start-up already
	svc := xapi.New(xapi.Options{DB: db, KeySecret: keySecret, BaseURL: cfg.BaseURL, Platform: platform, Allow: allow, Logger: log,
		Sources: xapi.Sources{Course: func() *course.Course {
			if pub := library.Current(); pub != nil {
				return pub.Course
			}
			return nil
		}, Progress: progress, Attempts: exams, Certificates: certs},
		EmailOf: func(ctx context.Context, userID string) (string, error) {
			u, err := accounts.User(ctx, userID)
			if err != nil {
				return "", err
			}
			return u.Email, nil
		}})
	go svc.Run(ctx)
	go svc.Send(ctx, 5*time.Second)
	holder := account.NewID()
	go poll.Every(ctx, 10*time.Minute, log, "queueing learning records", func(ctx context.Context) error {
		if ok, err := db.Lease(ctx, "xapi-reconcile", holder, 30*time.Minute); !ok || err != nil {
			return err
		}
		defer db.Release(context.WithoutCancel(ctx), "xapi-reconcile", holder)
		lrss, err := svc.LRSs(ctx)
		if err != nil || len(lrss) == 0 {
			return err
		}
		rows, err := progress.RecordRows(ctx)
		if err != nil {
			return err
		}
		var users []string
		seen := map[string]bool{}
		for _, r := range rows {
			if !seen[r.UserID] {
				seen[r.UserID] = true
				users = append(users, r.UserID)
			}
		}
		if _, err := svc.Reconcile(ctx, users); err != nil {
			return err
		}
		_, err = svc.Purge(ctx, 30*24*time.Hour)
		return err
	})
	return svc
}

// ensureIndexes creates every domain package's indexes, idempotently.
// Each domain package adds its EnsureIndexes here.
func ensureIndexes(ctx context.Context, db *database.DB) error {
	for _, ensure := range []func(context.Context, *database.DB) error{
		studio.EnsureIndexes,
		study.EnsureIndexes,
		feedback.EnsureIndexes,
		account.EnsureIndexes,
		exam.EnsureIndexes,
		mail.EnsureIndexes,
		org.EnsureIndexes,
		sso.EnsureIndexes,
		lti.EnsureIndexes,
		assign.EnsureIndexes,
		xapi.EnsureIndexes,
	} {
		if err := ensure(ctx, db); err != nil {
			return err
		}
	}
	return nil
}
