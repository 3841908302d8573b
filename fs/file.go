package fs

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"go.yaml.in/yaml/v3"

	"github.com/knit-cdp/knit"
)

// FileName is the model file's name in a project folder.
const FileName = "knit.model.yaml"

const fileHeader = `knit linkage model (Fellegi–Sunter), written by "knit train", read by "knit run".
Each comparison sorts a pair into its first level that holds; a level adds
log2(m/u) bits to the pair's match weight (shown after each label; derived,
ignored when read). m = P(level | match), u = P(level | non-match).
prior is the probability that two random records match; a pair becomes a
link when its match probability is at least threshold.
Probabilities are written with every digit a float64 needs, so a model read
back scores exactly as the one written. Edit with care: m and u must each
sum to 1 over a comparison's non-null levels.`

// Save writes the model as YAML: keys in a fixed order, maps sorted, a
// header comment and each level's match weight as a line comment, so the
// file reads well and diffs cleanly. It is written to a temporary file and
// renamed, so a crash never leaves half a model.
func (m *Model) Save(path string) error {
	data, err := m.MarshalYAMLFile()
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".knit-model-*")
	if err != nil {
		return knit.Wrap(knit.EINTERNAL, err, "save model %s", path)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return knit.Wrap(knit.EINTERNAL, err, "save model %s", path)
	}
	if err := tmp.Close(); err != nil {
		return knit.Wrap(knit.EINTERNAL, err, "save model %s", path)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return knit.Wrap(knit.EINTERNAL, err, "save model %s", path)
	}
	return nil
}

// MarshalYAMLFile renders the model file's content.
func (m *Model) MarshalYAMLFile() ([]byte, error) {
	out := *m
	if !out.Trained.IsZero() {
		out.Trained = out.Trained.UTC()
	}
	var doc yaml.Node
	if err := doc.Encode(&out); err != nil {
		return nil, knit.Wrap(knit.EINTERNAL, err, "encode model")
	}
	doc.HeadComment = fileHeader
	m.annotateWeights(&doc)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, knit.Wrap(knit.EINTERNAL, err, "encode model")
	}
	if err := enc.Close(); err != nil {
		return nil, knit.Wrap(knit.EINTERNAL, err, "encode model")
	}
	return buf.Bytes(), nil
}

// annotateWeights puts each level's match weight beside its label.
func (m *Model) annotateWeights(doc *yaml.Node) {
	comps := mappingValue(doc, "comparisons")
	if comps == nil {
		return
	}
	for c, compNode := range comps.Content {
		levels := mappingValue(compNode, "levels")
		if levels == nil || c >= len(m.Comparisons) {
			continue
		}
		for k, levelNode := range levels.Content {
			label := mappingValue(levelNode, "label")
			if label == nil || k >= len(m.Comparisons[c].Levels) {
				continue
			}
			l := m.Comparisons[c].Levels[k]
			switch {
			case l.IsNull():
				label.LineComment = "no evidence: 0 bits"
			case l.M > 0 && l.U > 0:
				label.LineComment = fmt.Sprintf("%+.2f bits", m.LevelWeight(c, k))
			}
		}
	}
}

// mappingValue returns the value node of key in a mapping node (or in the
// mapping a document node holds), or nil.
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// Load reads and validates a model file. A missing file is ENOTFOUND (run
// "knit train" first); a malformed or invalid one is EINVALID naming the
// file and, for YAML problems, the line.
func Load(path string) (*Model, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, knit.Errorf(knit.ENOTFOUND, "%s not found: train a model first with \"knit train\"", path)
	}
	if err != nil {
		return nil, knit.Wrap(knit.EINTERNAL, err, "read model %s", path)
	}
	m, err := Parse(data)
	if err != nil {
		return nil, knit.Wrap(knit.EINVALID, err, "%s", path)
	}
	return m, nil
}

// Parse decodes and validates model file content. Unknown keys are errors,
// so a misspelt key is not silently ignored.
func Parse(data []byte) (*Model, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var m Model
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}
