import { toolPlugin } from "../../shared/tool-plugin.ts";
import tool from "./tool.ts";

export default toolPlugin("code-interpreter", "0.1.0", tool);
