// yamlcheck reads a multi-document YAML stream on stdin the way kubectl does (documents split at
// lines starting with "---", each converted with sigs.k8s.io/yaml.YAMLToJSON, which follows
// YAML 1.1 rules) and prints the documents as one JSON array on stdout. The tests compare it with
// the compiler's own JSON: any string kubectl would read as a number, a boolean or null differs.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"sigs.k8s.io/yaml"
)

func documents(stream []byte) [][]byte {
	var docs [][]byte
	var current bytes.Buffer
	scanner := bufio.NewScanner(bytes.NewReader(stream))
	scanner.Buffer(make([]byte, 1024*1024), 64*1024*1024)
	for scanner.Scan() {
		line := scanner.Bytes()
		if bytes.HasPrefix(line, []byte("---")) {
			docs = append(docs, append([]byte(nil), current.Bytes()...))
			current.Reset()
			continue
		}
		current.Write(line)
		current.WriteByte('\n')
	}
	docs = append(docs, current.Bytes())
	return docs
}

func main() {
	stream, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "yamlcheck:", err)
		os.Exit(2)
	}
	out := []json.RawMessage{}
	for _, doc := range documents(stream) {
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		converted, err := yaml.YAMLToJSON(doc)
		if err != nil {
			fmt.Fprintln(os.Stderr, "yamlcheck:", err)
			os.Exit(1)
		}
		out = append(out, converted)
	}
	encoded, err := json.Marshal(out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "yamlcheck:", err)
		os.Exit(2)
	}
	os.Stdout.Write(encoded)
}
