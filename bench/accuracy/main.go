// Command accuracy reproduces every figure of docs/ACCURACY.md: for each
// labelled dataset project under datasets/ it runs "knit train" (when the
// project has a model), "knit run" and "knit evaluate --json" with a
// freshly built knit, and prints one
// Markdown table row per dataset (pairwise precision, recall and F1, and the
// cluster figures). The datasets' files are read from ../shared/data beside
// the repository, as each project's knit.yaml says.
//
//	go run ./bench/accuracy                      # every dataset
//	go run ./bench/accuracy febrl1 ncvr_20       # some
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/evaluate"
)

// datasets lists the projects in the order of docs/ACCURACY.md.
var datasets = []string{
	"febrl1", "febrl2", "febrl3", "febrl4", "fake_1000", "historical_50k",
	"ncvr_20", "ncvr_40", "dblp_acm", "abt_buy",
}

func main() {
	root := flag.String("root", "datasets", "folder holding the dataset projects")
	flag.Parse()
	names := flag.Args()
	if len(names) == 0 {
		names = datasets
	}
	tmp, err := os.MkdirTemp("", "knit-accuracy")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(tmp)
	knit := filepath.Join(tmp, "knit")
	if out, err := exec.Command("go", "build", "-o", knit, "./cmd/knit").CombinedOutput(); err != nil {
		fail(fmt.Errorf("go build ./cmd/knit: %v\n%s", err, out))
	}
	host, _ := os.Hostname()
	fmt.Printf("knit accuracy, %s, host %s\n\n", time.Now().UTC().Format(time.RFC3339), host)
	fmt.Println("| dataset | records | precision | recall | F1 | true / predicted pairs | entities exact | split | over-merged | train + run |")
	fmt.Println("|--|--|--|--|--|--|--|--|--|--|")
	failed := false
	for _, name := range names {
		dir := filepath.Join(*root, name)
		start := time.Now()
		res, err := measure(knit, dir)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
			failed = true
			continue
		}
		fmt.Printf("| %s | %d | %.4f | %.4f | **%.4f** | %d / %d | %d of %d (%.1f%%) | %d | %d | %.1f s |\n",
			name, res.Records, res.Precision, res.Recall, res.F1, res.TruePairs, res.PredictedPairs,
			res.ExactClusters, res.TrueClusters, 100*float64(res.ExactClusters)/float64(max(res.TrueClusters, 1)),
			res.SplitEntities, res.OverMerged, time.Since(start).Seconds())
	}
	if failed {
		os.Exit(1)
	}
}

// measure trains, runs and evaluates one project.
func measure(knit, dir string) (evaluate.Result, error) {
	var res evaluate.Result
	proj, err := config.Load(dir)
	if err != nil {
		return res, err
	}
	steps := [][]string{{"run", "-q", dir}}
	if proj.Config.Unify.Model != nil {
		// Rule-only projects (abt_buy) have nothing to train.
		steps = append([][]string{{"train", "-q", dir}}, steps...)
	}
	for _, args := range steps {
		if out, err := exec.Command(knit, args...).CombinedOutput(); err != nil {
			return res, fmt.Errorf("knit %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(knit, "evaluate", "--json", dir)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return res, fmt.Errorf("knit evaluate: %v\n%s", err, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		return res, fmt.Errorf("knit evaluate --json: %v", err)
	}
	return res, nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "accuracy:", err)
	os.Exit(1)
}
