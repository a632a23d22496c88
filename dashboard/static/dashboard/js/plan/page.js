// The plan page: one module per panel, all drawn from the shared state in state.js.

import { onLoadError, start } from "./state.js";
import "./summary.js";
import "./tasks.js";
import "./findings.js";
import "./runs.js";
import "./insight.js";
import "./start.js";
import { showAnswer } from "../answer.js";

onLoadError((error) => showAnswer(document.getElementById("answer"), error.message, true));
start();
