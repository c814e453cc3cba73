import { toolPlugin } from "../../shared/tool-plugin.ts";
import tool from "./tool.ts";

export default toolPlugin("hmac-signer", "0.1.0", tool);
