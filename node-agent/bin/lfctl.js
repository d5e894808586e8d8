#!/usr/bin/env node
import '../dist/cli/lfctl.js';
