package campaign

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/marlon-go/marlon/faults"
)

// Runner runs the methods a campaign compares on its configurations. It is
// called from several goroutines at once (Options.Workers).
type Runner interface {
	// Methods names the methods compared, in the order of the tables.
	Methods() []string
	// Run runs method on configuration c with seed: one episode, whose
	// jobs and fault plan the seed fixes, so that every method meets the
	// same ones. It returns the episode's metrics by name.
	Run(c Config, method string, seed uint64) (Outcome, error)
}

// Outcome is what one run measured.
type Outcome struct {
	Metrics map[string]float64
	// Faults is what was injected (nil: the runner does not say).
	Faults *faults.Report
}

// Record is one run of a campaign: one line of its results file.
type Record struct {
	Config  string             `json:"config"`
	Method  string             `json:"method"`
	Rep     int                `json:"rep"`
	Seed    uint64             `json:"seed"`
	Metrics map[string]float64 `json:"metrics"`
	Faults  *faults.Report     `json:"faults,omitempty"`
	Seconds float64            `json:"seconds"`
}

// Options say what a campaign runs and where its results go.
type Options struct {
	Configs []Config
	// Reps is the number of repetitions of every configuration, each with
	// its own seed (RunSeed), the same for every method.
	Reps int
	// Seed is the campaign's seed, from which every run's is derived.
	Seed uint64
	// Dir receives the campaign's files: campaign.json (what it runs),
	// results.jsonl (a Record per line, written as runs complete),
	// summary.json. A campaign stopped half-way continues where it
	// stopped when run again into the same Dir: the runs recorded are not
	// run again.
	Dir string
	// Workers is how many runs go at once (0: GOMAXPROCS).
	Workers int
	// Settings record what else decides the results (a learner's training,
	// say): kept in campaign.json, and a campaign is resumed only with the
	// same.
	Settings map[string]string
	// Tested names the metrics the summary tests between methods (all if
	// none).
	Tested []string
	// Progress, if set, is called after each run (not concurrently) with
	// the number of runs done (recorded ones included) and to do.
	Progress func(done, total int, r Record)
}

// Manifest is what a campaign runs: written to campaign.json, and checked
// when a campaign is resumed.
type Manifest struct {
	Seed     uint64            `json:"seed"`
	Reps     int               `json:"reps"`
	Methods  []string          `json:"methods"`
	Settings map[string]string `json:"settings,omitempty"`
	Configs  []Config          `json:"configs"`
}

// File names in Options.Dir.
const (
	ManifestFile = "campaign.json"
	ResultsFile  = "results.jsonl"
	SummaryFile  = "summary.json"
)

// RunSeed is the seed of repetition rep (from 1) of the named
// configuration in the campaign of seed.
func RunSeed(seed uint64, config string, rep int) uint64 {
	h := fnv.New64a()
	h.Write([]byte(config))
	return rand.New(rand.NewPCG(seed^h.Sum64(), uint64(rep))).Uint64()
}

type key struct {
	config, method string
	rep            int
}

// Run runs the campaign: every method on every configuration and
// repetition, skipping the runs Dir already records, then summarises all
// of them (Summarize) and writes summary.json. An error of one run stops
// the campaign; the runs recorded so far stay recorded.
func Run(r Runner, opts Options) (*Summary, error) {
	m := Manifest{Seed: opts.Seed, Reps: opts.Reps, Methods: r.Methods(), Settings: opts.Settings, Configs: opts.Configs}
	if err := m.validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, err
	}
	if err := claim(opts.Dir, m); err != nil {
		return nil, err
	}
	records, err := ReadResults(filepath.Join(opts.Dir, ResultsFile), true)
	if err != nil {
		return nil, err
	}
	done := map[key]bool{}
	for _, rec := range records {
		done[key{rec.Config, rec.Method, rec.Rep}] = true
	}
	type job struct {
		c    Config
		meth string
		rep  int
	}
	var todo []job
	for _, c := range m.Configs {
		for rep := 1; rep <= m.Reps; rep++ {
			for _, meth := range m.Methods {
				if !done[key{c.Name, meth, rep}] {
					todo = append(todo, job{c, meth, rep})
				}
			}
		}
	}
	total := len(m.Configs) * m.Reps * len(m.Methods)
	f, err := os.OpenFile(filepath.Join(opts.Dir, ResultsFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close()

	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	jobs := make(chan job)
	var (
		mu       sync.Mutex
		firstErr error
		count    = total - len(todo)
		wg       sync.WaitGroup
	)
	record := func(rec Record, err error) {
		mu.Lock()
		defer mu.Unlock()
		if firstErr != nil {
			return
		}
		if err == nil {
			var line []byte
			if line, err = json.Marshal(rec); err == nil {
				_, err = f.Write(append(line, '\n'))
			}
		}
		if err != nil {
			firstErr = err
			return
		}
		records = append(records, rec)
		count++
		if opts.Progress != nil {
			opts.Progress(count, total, rec)
		}
	}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				seed := RunSeed(m.Seed, j.c.Name, j.rep)
				start := time.Now()
				out, err := r.Run(j.c, j.meth, seed)
				if err != nil {
					err = fmt.Errorf("campaign: %s, %s, repetition %d (seed %d): %w", j.c.Name, j.meth, j.rep, seed, err)
				}
				record(Record{Config: j.c.Name, Method: j.meth, Rep: j.rep, Seed: seed, Metrics: out.Metrics, Faults: out.Faults, Seconds: time.Since(start).Seconds()}, err)
			}
		}()
	}
	for _, j := range todo {
		mu.Lock()
		stop := firstErr != nil
		mu.Unlock()
		if stop {
			break
		}
		jobs <- j
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	s := Summarize(m, records, opts.Tested...)
	js, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	return s, os.WriteFile(filepath.Join(opts.Dir, SummaryFile), append(js, '\n'), 0o644)
}

func (m Manifest) validate() error {
	switch {
	case m.Reps < 1:
		return fmt.Errorf("campaign: repetitions must be at least 1, got %d", m.Reps)
	case len(m.Configs) == 0:
		return errors.New("campaign: no configuration to run")
	case len(m.Methods) == 0:
		return errors.New("campaign: no method to run")
	}
	names := map[string]bool{}
	for _, c := range m.Configs {
		if err := c.Validate(); err != nil {
			return err
		}
		if names[c.Name] {
			return fmt.Errorf("campaign: two configurations named %s", c.Name)
		}
		names[c.Name] = true
	}
	for i, meth := range m.Methods {
		if meth == "" || slices.Contains(m.Methods[:i], meth) {
			return fmt.Errorf("campaign: method names must be distinct and non-empty, got %q", meth)
		}
	}
	return nil
}

// ErrOtherCampaign is returned (wrapped) when Dir holds another campaign's
// results.
var ErrOtherCampaign = errors.New("the directory holds the results of another campaign")

// claim writes dir's manifest, or checks that the one there is m.
func claim(dir string, m Manifest) error {
	path := filepath.Join(dir, ManifestFile)
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		js, err := json.MarshalIndent(m, "", "  ")
		if err != nil {
			return err
		}
		return os.WriteFile(path, append(js, '\n'), 0o644)
	case err != nil:
		return err
	}
	var old Manifest
	if err := json.Unmarshal(b, &old); err != nil {
		return fmt.Errorf("campaign: %s: %w", path, err)
	}
	// Compare through JSON, as it was written.
	var want Manifest
	js, _ := json.Marshal(m)
	json.Unmarshal(js, &want)
	if !reflect.DeepEqual(old, want) {
		return fmt.Errorf("campaign: %s: %w (seed %d, %d repetitions, %d configurations, methods %v); resume it with the same settings or use another directory",
			dir, ErrOtherCampaign, old.Seed, old.Reps, len(old.Configs), old.Methods)
	}
	return nil
}

// ReadResults reads a results file (a missing file holds none). A last
// line cut short (the campaign was killed while writing it) is dropped,
// and with repair cut off the file; any other bad line is an error naming
// it.
func ReadResults(path string, repair bool) ([]Record, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Record
	good := 0 // bytes of whole, valid lines
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<30)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Bytes()
		var r Record
		if err := json.Unmarshal(text, &r); err != nil {
			if good+len(text) >= len(b) { // the last line, with no newline: cut short
				break
			}
			return nil, fmt.Errorf("campaign: %s line %d: %w", path, line, err)
		}
		out = append(out, r)
		good += len(text) + 1
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("campaign: %s: %w", path, err)
	}
	if repair && good < len(b) {
		if err := os.Truncate(path, int64(good)); err != nil {
			return nil, err
		}
	}
	if repair && good > len(b) { // the last line is whole but lacks its newline
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return nil, err
		}
		_, err = f.Write([]byte{'\n'})
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// WriteJSON writes v as indented JSON.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
